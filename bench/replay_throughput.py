"""Replay throughput against the machine's ceiling: a long queue_log and nine months of bank records through
``wallboard.replay.replay``, beside ``redis-benchmark`` run on the same server in the same session.

    python bench/replay_throughput.py [--smoke] [--redis URL] [--events 1000000] [--skip-bank] [--skip-queue-log]

Inputs: a queue_log of about ``--events`` events, made in a temp dir by repeating samples/sample_day.queue_log
a day later each time (call ids made unique); the nine months of ``shared/data/anonymous_bank`` read by the
``calls-csv`` feed with the ``bank`` mapping. ``--smoke``: one sample day (~11k events) and 1,000 bank rows.

Figures, per input:
- ``end_to_end``: events / wall time of ``replay()`` from opening the input to the final snapshot published
  (reading and parsing included; the throwaway namespace's deletion is timed apart, ``drop``);
- ``steady``: events / time between 10 % and 90 % of the events applied;
- ``python_cpu_us_per_event`` and ``redis_cpu_us_per_event``: where the time goes (process CPU; the server's
  ``used_cpu_user + used_cpu_sys``);
- the ceiling: ``redis-benchmark`` running EVALSHA of our two scripts on batches taken from this very replay
  (each request on a fresh slot, ``{q:__rand_int__}``, so every event is new work, as in the replay), combined
  in the replay's proportions of queue and agent records: events/s Redis could do with this command mix and
  nothing else to wait for; and ``ceiling_measured``: events / the server's CPU seconds during the replay.
  ``ratio`` = steady / ceiling (the issue's target: >= 0.5).
- the raw ceiling, once: SET and HINCRBY, 1 and 100 per round trip, 50 clients.
"""

from __future__ import annotations

import argparse
import asyncio
import inspect
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _bench as B  # noqa: E402

import redis  # noqa: E402
from wallboard.redis_server import REPLAY_SERVER_OPTIONS  # noqa: E402


class ChainFeed:
    """Several feeds one after another (the bank's months, in time order)."""

    def __init__(self, feeds, name: str):
        self.feeds, self.name = feeds, name

    def read(self):
        for f in self.feeds:
            yield from f.read()


class Recorder:
    """Counts the records the engine sends to each script and keeps a few full batches as samples."""

    def __init__(self, batch_size: int):
        self.batch_size = batch_size
        self.records = {"queue_batch": 0, "agent_batch": 0}
        self.calls = {"queue_batch": 0, "agent_batch": 0}
        self.samples: dict[str, list[tuple[str, str]]] = {"queue_batch": [], "agent_batch": []}
        self.sample_after = 0
        self.min_sample = batch_size  # full batches only (a smoke run takes smaller ones)

    @staticmethod
    async def with_prior_state(client, base: str, args: tuple) -> tuple:
        """An agent batch replayed on a fresh slot must find the agent in the state it was in (the time since
        then is split into minute buckets when the batch's first state comes): put that state first."""
        state, reason, since = await client.hmget(f"{base}:state", "state", "reason", "since")
        if not state or since is None:
            return args
        events = json.loads(args[1])
        first = ["S", float(since), False, False, state, reason or False, False]  # (agent_batch.lua's header)
        return (args[0], json.dumps([first, *events], separators=(",", ":")))

    def install(self):
        from wallboard import store

        original = store.Scripts.run_pipeline
        rec = self

        async def run_pipeline(self_, client, calls, extra=None):
            for name, base, args in calls:
                if name not in rec.records:
                    continue  # (the dead letters' scripts)
                n = len(json.loads(args[1]))  # (records are objects or positional arrays)
                if not n:
                    continue  # a snapshot's read
                rec.records[name] += n
                rec.calls[name] += 1
                s = rec.samples[name]
                if (
                    n >= rec.min_sample
                    and rec.calls[name] >= rec.sample_after
                    and len(s) < 12
                    and rec.calls[name] % 3 == 0
                ):
                    if name == "agent_batch":
                        args = await rec.with_prior_state(client, base, args)
                    s.append(args)
            if extra is None:  # (so that this also runs on the code before this optimisation, for comparison)
                return await original(self_, client, calls)
            return await original(self_, client, calls, extra=extra)

        store.Scripts.run_pipeline = run_pipeline
        return lambda: setattr(store.Scripts, "run_pipeline", original)


async def run_replay(feed, config, url: str, window: str, prefix: str, rec: Recorder, expect: int):
    from wallboard.replay import replay

    marks: list[tuple[float, int]] = []
    rec.sample_after = 30 if expect >= 100_000 else 0  # samples from past the start
    rec.min_sample = rec.batch_size if expect >= 100_000 else 5

    def progress(st):
        marks.append((time.perf_counter(), st.events))

    r = redis.Redis.from_url(url)
    cpu0, p0, t0 = B.redis_cpu_s(r), time.process_time(), time.perf_counter()
    kw = {"progress": progress} if "progress" in inspect.signature(replay).parameters else {}
    snap, stats = await replay(feed, config, redis_url=url, prefix=prefix, window_mode=window, **kw)
    wall, pcpu, rcpu = time.perf_counter() - t0, time.process_time() - p0, B.redis_cpu_s(r) - cpu0
    mem = B.used_memory(r)
    t = time.perf_counter()
    keys = B.drop_sync(r, prefix)
    drop = time.perf_counter() - t
    n = stats.events
    lo, hi = 0.1 * n, 0.9 * n
    a = next((m for m in marks if m[1] >= lo), None)
    b = next((m for m in marks if m[1] >= hi), None)
    steady = (b[1] - a[1]) / (b[0] - a[0]) if a and b and b[0] > a[0] else n / wall
    return {
        "events": n,
        "applied": stats.applied,
        "duplicates": stats.duplicates,
        "dead": stats.dead_letters,
        "wall": wall,
        "e2e": n / wall,
        "steady": steady,
        "pcpu_us": pcpu / n * 1e6,
        "rcpu_us": rcpu / n * 1e6,
        "rcpu": rcpu,
        "mem": mem,
        "keys": keys,
        "drop": drop,
        "offered": snap.total.offered,
    }


def script_ceiling(url: str, rec: Recorder, smoke: bool) -> tuple[float | None, dict]:
    """Events/s for this replay's command mix, from redis-benchmark running our scripts on sampled batches."""
    from wallboard.store import Scripts

    sc = Scripts()
    r = redis.Redis.from_url(url)
    shas = {name: r.script_load(src) for name, src in sc.sources.items()}
    rates: dict[str, float] = {}
    detail = {}
    for name, kind in (("queue_batch", "q"), ("agent_batch", "a")):
        samples = rec.samples[name]
        if not samples or not rec.records[name]:
            continue
        picks = [samples[i] for i in sorted({0, len(samples) // 2, len(samples) - 1})]
        per_record_s = []
        for params, events in picks:
            nrec = len(json.loads(events))
            rps = B.redis_benchmark(
                url,
                ["EVALSHA", shas[name], "1", f"wbbench-ev:{{{kind}:__rand_int__}}", params, events],
                requests=16 if smoke else 1500,
                clients=4,
                pipeline=4,
                keyspace=1_000_000_000,
            )
            if rps is None:
                return None, {}
            per_record_s.append(1 / (rps * nrec))
        rates[name] = 1 / (sum(per_record_s) / len(per_record_s))
        detail[name] = rates[name]
    B.drop_sync(r, "wbbench-ev")
    if not rates:
        return None, {}
    return rates, detail


def ceiling_for(res: dict, rec_counts: dict, rates: dict | None) -> float | None:
    if not rates:
        return None
    t = sum(rec_counts[name] / rates[name] for name in rec_counts if rec_counts[name] and name in rates)
    return res["events"] / t if t else None


def report(label: str, res: dict, ceiling: float | None, rec: Recorder, rates: dict | None) -> None:
    B.say(
        f"-- {label}: {res['events']:,} events ({res['applied']:,} transitions applied, {res['duplicates']:,} "
        f"duplicates, {res['dead']:,} dead letters; {res['offered']:,} offered in the final snapshot)"
    )
    B.figure(f"replay.{label}.end_to_end", res["e2e"], "events/s", f"{res['wall']:.1f} s, input read and parsed")
    B.figure(f"replay.{label}.steady", res["steady"], "events/s", "10 % -> 90 % of the events applied")
    B.figure(f"replay.{label}.python_cpu_us_per_event", res["pcpu_us"], "us", "parse + prepare + client")
    B.figure(f"replay.{label}.redis_cpu_us_per_event", res["rcpu_us"], "us", "server CPU during the replay")
    B.figure(
        f"replay.{label}.ceiling_measured",
        res["events"] / res["rcpu"] if res["rcpu"] else float("nan"),
        "events/s",
        "events / server CPU seconds of this replay",
    )
    if rates:
        B.figure(
            f"replay.{label}.script_rate.queue_batch",
            rates.get("queue_batch", float("nan")),
            "records/s",
            "redis-benchmark EVALSHA queue_batch, batches of this input, 4 clients x 4 pipelined",
        )
        if "agent_batch" in rates:
            B.figure(
                f"replay.{label}.script_rate.agent_batch",
                rates["agent_batch"],
                "records/s",
                "redis-benchmark EVALSHA agent_batch, batches of this input",
            )
    recs = ", ".join(f"{k} {v:,} records in {rec.calls[k]:,} calls" for k, v in rec.records.items())
    if ceiling:
        B.figure(f"replay.{label}.ceiling", ceiling, "events/s", f"redis-benchmark, this mix: {recs}")
        B.figure(f"replay.{label}.ratio", res["steady"] / ceiling, "", "steady / ceiling; target >= 0.5")
    else:
        B.figure(f"replay.{label}.ceiling", "n/a", "", "redis-benchmark not found, or no batch sampled")
    B.figure(f"replay.{label}.drop", res["drop"], "s", f"deleting the namespace's {res['keys']:,} keys")
    B.figure(f"replay.{label}.redis_memory", res["mem"] / 1e6, "MB", "used_memory at the end")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--smoke", action="store_true", help="a seconds-long run (CI)")
    ap.add_argument("--redis", default=None, help="use this server instead of a private one")
    ap.add_argument("--events", type=int, default=1_000_000, help="queue_log events (about)")
    ap.add_argument("--skip-bank", action="store_true")
    ap.add_argument("--skip-queue-log", action="store_true")
    args = ap.parse_args()

    from feeds.calls_csv import CallsCsvFeed
    from feeds.queue_log import QueueLogFeed
    from wallboard.config import load_config

    with (
        B.redis_server(args.redis, extra=list(REPLAY_SERVER_OPTIONS)) as (url, how),
        tempfile.TemporaryDirectory(prefix="wbbench") as tmp,
    ):
        B.print_machine(url, how)
        raw = B.raw_ceiling(url, args.smoke)
        for k, v in raw.items():
            B.figure(
                f"redis_benchmark.{k.replace(' ', '_')}",
                v if v is not None else "n/a",
                "ops/s" if v else "",
                "50 clients, random keys",
            )

        if not args.skip_queue_log:
            events = 10_000 if args.smoke else args.events
            path, copies = B.long_queue_log(events, Path(tmp))
            config = load_config(B.ROOT / "config" / "wallboard.toml")
            B.say(f"input: {path.name}, the sample day x {copies} ({path.stat().st_size / 1e6:.0f} MB)")
            rec = Recorder(config.engine.batch_size)
            undo = rec.install()
            try:
                res = asyncio.run(
                    run_replay(QueueLogFeed(path, config), config, url, "since_reset", "wbbench-ql", rec, events)
                )
            finally:
                undo()
            rates, _ = script_ceiling(url, rec, args.smoke)
            report("queue_log", res, ceiling_for(res, rec.records, rates), rec, rates)

        if not args.skip_bank:
            data = B.shared_data() / "anonymous_bank"
            months = sorted(data.glob("*.txt"))
            config = load_config(None, centre={"name": "Anonymous Bank", "timezone": "Asia/Jerusalem"})
            if args.smoke:
                head = months[2].read_text(encoding="ascii").splitlines(keepends=True)[:1001]
                small = Path(tmp) / "bank_smoke.txt"
                small.write_text("".join(head), encoding="ascii")
                months = [small]
            B.say(f"input: {len(months)} month file(s) of the Anonymous Bank: {', '.join(m.name for m in months)}")
            feed = ChainFeed([CallsCsvFeed(m, config, mapping="bank") for m in months], "calls-csv")
            rec = Recorder(config.engine.batch_size)
            undo = rec.install()
            try:
                res = asyncio.run(
                    run_replay(feed, config, url, "since_reset", "wbbench-bank", rec, 1000 if args.smoke else 800_000)
                )
            finally:
                undo()
            rates, _ = script_ceiling(url, rec, args.smoke)
            report("bank", res, ceiling_for(res, rec.records, rates), rec, rates)
    return 0


if __name__ == "__main__":
    sys.exit(main())
