"""A real centre's log with its agents, replayed: the Anonymous Bank's months written as an Asterisk queue_log
(``bench/bank_queue_log.py``: an agent per server, never logged off, so agents sit "available" overnight as in
any real log) through ``wallboard.replay.replay``, on a private server, beside the raw Redis ceiling measured in
the same run.

    python bench/replay_bank_queue_log.py [--smoke] [--months 01_January ...] [--redis URL]

Figures: lines/s end to end (reading and parsing included), Redis commands per line (INFO commandstats, those
run inside our scripts included) and the agent-time share of them (HINCRBY/HINCRBYFLOAT/EXPIRE/ZADD on agent
keys is not separable in commandstats, so the totals are given), the server's CPU and the replaying process's CPU
per line (the two overlap on two cores: end to end is about the larger of them when the machine is otherwise idle). ``--smoke``: the
first 3,000 lines of January.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _bench as B  # noqa: E402
import bank_queue_log as BQ  # noqa: E402

import redis  # noqa: E402
from wallboard.redis_server import REPLAY_SERVER_OPTIONS  # noqa: E402


def commands(client: redis.Redis) -> int:
    return sum(v["calls"] for k, v in client.info("commandstats").items() if k != "cmdstat_info")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--smoke", action="store_true")
    ap.add_argument("--months", nargs="*", default=BQ.MONTHS)
    ap.add_argument("--redis", default=None)
    a = ap.parse_args()

    from feeds.queue_log import QueueLogFeed
    from wallboard.config import load_config
    from wallboard.replay import replay

    with tempfile.TemporaryDirectory() as tmp, B.redis_server(a.redis, extra=list(REPLAY_SERVER_OPTIONS)) as (url, how):
        path = Path(tmp) / "bank.queue_log"
        months = a.months[:1] if a.smoke else a.months
        with open(path, "w", encoding="utf-8") as f:
            lines = BQ.write(months, f)
        if a.smoke:
            head = path.read_text(encoding="utf-8").splitlines()[:3000]
            path.write_text("\n".join(head) + "\n", encoding="utf-8")
            lines = len(head)
        B.print_machine(url, how)
        client = redis.Redis.from_url(url)
        config = load_config(None, redis={"prefix": "wbbench-bankql"})
        c0, cpu0, t0, py0 = commands(client), B.redis_cpu_s(client), time.perf_counter(), time.process_time()
        asyncio.run(replay(QueueLogFeed(str(path), config), config, redis_url=url, prefix="wbbench-bankql"))
        wall, py = time.perf_counter() - t0, time.process_time() - py0
        c1, cpu1 = commands(client), B.redis_cpu_s(client)
        B.figure("input", f"{', '.join(months)}", "", f"{lines:,} queue_log lines")
        B.figure("replay end to end", round(lines / wall), "lines/s", f"{wall:.1f} s")
        B.figure("Redis commands per line", round((c1 - c0) / lines, 2), "", "scripts' inner commands included")
        B.figure("Redis CPU per line", round((cpu1 - cpu0) / lines * 1e6, 1), "µs")
        B.figure(
            "Python CPU per line", round(py / lines * 1e6, 1), "µs", "the replaying process: reading, parsing, batching"
        )
        B.drop_sync(client, "wbbench-bankql")
        ceiling = B.raw_ceiling(url, a.smoke)
        for name, v in ceiling.items():
            B.figure(f"ceiling {name}", v, "requests/s", "redis-benchmark, 50 clients, same server")


if __name__ == "__main__":
    main()
