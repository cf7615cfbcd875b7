"""Soak: a long simulated queue_log written live at high speed, a real ingester following it, and faults on
a schedule — the ingester SIGKILLed and restarted, Redis SIGKILLed and restarted from its AOF (everysec),
garbage lines in the file. At the end the counts are compared with a clean offline replay of the same file.

    python bench/soak.py [--smoke] [--seconds 120] [--rate 2500] [--kills 3] [--redis-restarts 2]

Prints memory over time (the ingester's RSS, Redis' used_memory), events applied, dead letters, reconnects,
the longest stale period (the longest gap between two snapshots reaching a view, as a screen would see it),
recovery times, and events lost / double-counted against the clean run (both must be 0). Always runs its own
Redis (it has to kill it): Debian's ``redis-server`` when installed, else the embedded valkey binary.

The input is the sample day repeated (``_bench.long_queue_log``, each copy a day later with its own call ids),
with one malformed line every ``BAD_EVERY`` lines. The comparison is per day (each day's window): every
queue's counters, every agent's counters, the dead-letter count and who is waiting at the end.
``WBSOAK_KEEP=1`` leaves the server running at the end (its URL is printed) to look into a difference.
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

import redis

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _bench as B  # noqa: E402

CONFIG = B.ROOT / "config" / "wallboard.toml"
BAD_EVERY = 997
PREFIX = "wbsoak"
QUEUE_COUNTERS = (
    "entered",
    "offered",
    "answered",
    "answered_within_sl",
    "abandoned",
    "short_abandoned",
    "abandoned_within_sl",
    "overflowed",
    "completed",
    "talk_s",
    "wrap_s",
    "wait_answered_s",
    "wait_all_s",
    "callbacks_done",
)
AGENT_COUNTERS = ("calls_handled", "missed", "available_s", "on_call_s", "wrap_up_s", "paused_s")


# ---- the pieces ---------------------------------------------------------------------------------------------


class Server:
    """A Redis with AOF everysec in its own folder, killed and started again on the same port."""

    def __init__(self) -> None:
        self.binary, self.kind = B._server_binary()
        self.dir = tempfile.mkdtemp(prefix="wbsoak")
        self.port = B._free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc: subprocess.Popen | None = None

    def start(self) -> float:
        """Start and wait until it answers (AOF loaded); returns the seconds that took."""
        t0 = time.monotonic()
        self.proc = subprocess.Popen(
            [
                self.binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--dir",
                self.dir,
                "--save",
                "",
                "--appendonly",
                "yes",
                "--appendfsync",
                "everysec",
                "--protected-mode",
                "no",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        c = redis.Redis.from_url(self.url)
        while True:
            try:
                c.ping()
                c.close()
                return time.monotonic() - t0
            except (redis.ConnectionError, redis.BusyLoadingError):
                if self.proc.poll() is not None:
                    raise RuntimeError(f"{self.binary} exited at start ({self.proc.returncode})") from None
                time.sleep(0.01)

    def kill(self) -> None:
        if self.proc is not None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()

    def stop(self) -> None:
        try:
            redis.Redis.from_url(self.url).shutdown(nosave=True)
        except (redis.ConnectionError, redis.ResponseError, OSError):
            pass
        if self.proc is not None:
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.kill()


class Ingester:
    """``wallboard ingest --feed queue-log FILE`` as its own process, restarted after each kill."""

    def __init__(self, url: str, path: Path, logdir: Path) -> None:
        self.url, self.path, self.logdir = url, path, logdir
        self.proc: subprocess.Popen | None = None
        self.generation = 0

    def start(self) -> None:
        self.generation += 1
        cmd = [
            sys.executable,
            "-m",
            "wallboard.cli",
            "ingest",
            "--feed",
            "queue-log",
            str(self.path),
            "--config",
            str(CONFIG),
            "--redis",
            self.url,
            "--prefix",
            PREFIX,
            "--log",
            str(self.logdir / f"ingest-{self.generation}.log"),
            "--verbose",
        ]
        self.proc = subprocess.Popen(cmd, cwd=B.ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.kill()

    def rss_mb(self) -> float | None:
        try:
            for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
        except OSError:
            pass
        return None

    def reconnects(self) -> int:
        """Times a run found Redis back after losing it (its log says so)."""
        return sum(p.read_text(errors="replace").count("Redis is back") for p in self.logdir.glob("ingest-*.log"))


class View(threading.Thread):
    """A screen: subscribed to the summary channel, noting when each snapshot arrives; it reconnects itself."""

    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        self.url = url
        self.arrivals: list[float] = []
        self.done = threading.Event()

    def run(self) -> None:
        channel = f"{PREFIX}:{{c}}:snap"
        while not self.done.is_set():
            try:
                ps = redis.Redis.from_url(self.url, socket_timeout=2).pubsub(ignore_subscribe_messages=True)
                ps.subscribe(channel)
                while not self.done.is_set():
                    if ps.get_message(timeout=0.2) is not None:
                        self.arrivals.append(time.monotonic())
            except (redis.ConnectionError, redis.TimeoutError, OSError):
                time.sleep(0.2)

    def first_after(self, t: float) -> float | None:
        return next((a for a in self.arrivals if a > t), None)


class Writer(threading.Thread):
    """The PBX writing its queue_log: about ``rate`` lines a second, appended every 50 ms, a bad line now and then.

    The simulated days run some 10,000 times faster than the wall clock, and the feed, when it reaches the
    end of the file, lets out the wrap-up ends it inferred that are due on the wall clock — all of them, here,
    though on a real PBX none of them would be due yet. So a write ends only where the next line comes more
    than the longest wrap-up after the last one: where no wrap-up end can fall between the two, and a real
    queue_log could fall quiet, as Asterisk's does between calls."""

    def __init__(self, lines: list[str], path: Path, rate: float, max_wrapup_s: float) -> None:
        super().__init__(daemon=True)
        self.lines, self.path, self.rate = lines, path, rate
        self.written = 0
        self.bad = 0
        epochs = [int(line.split("|", 1)[0]) for line in lines]
        self.quiet = [i + 1 for i in range(len(lines) - 1) if epochs[i + 1] - epochs[i] > max_wrapup_s]
        self.quiet.append(len(lines))

    def run(self) -> None:
        t0 = time.monotonic()
        with open(self.path, "a", encoding="utf-8") as f:
            while self.written < len(self.lines):
                target = int((time.monotonic() - t0) * self.rate) + 1
                upto = self.quiet[max(0, bisect.bisect_right(self.quiet, target) - 1)]
                chunk = []
                for line in self.lines[self.written : upto]:
                    self.written += 1
                    chunk.append(line)
                    if self.written % BAD_EVERY == 0:
                        chunk.append(f"garbage-{self.written}|x|support|NONE|ENTERQUEUE")  # not a time: rejected
                        self.bad += 1
                if chunk:
                    f.write("\n".join(chunk) + "\n")
                    f.flush()
                time.sleep(0.05)


# ---- comparing with a clean run -----------------------------------------------------------------------------


async def day_counts(url: str, prefix: str, nows: list[datetime]) -> dict:
    """Per day: every queue's and agent's counters of that day's window; then the dead letters and who waits."""
    from wallboard.config import load_config
    from wallboard.engine import Engine
    from wallboard.keys import Keys
    from wallboard.store import connect

    config = load_config(CONFIG)
    client = await connect(config, url)
    try:
        engine = Engine(client, config, Keys(prefix))
        await engine.start()
        out: dict = {}
        for now in nows:
            snap = await engine.build_snapshot(now)
            day = now.date().isoformat()
            for q, v in snap.queues.items():
                for c in QUEUE_COUNTERS:
                    out[f"{day} queue {q} {c}"] = getattr(v, c)
            for a, v in snap.agents.items():
                for c in AGENT_COUNTERS:
                    out[f"{day} agent {a} {c}"] = round(getattr(v, c, 0) or 0, 3)
        out["dead_letters"] = snap.dead_letters
        out["waiting at the end"] = sum(v.waiting for v in snap.queues.values())
        return out
    finally:
        await client.aclose()


def compare(clean: dict, got: dict) -> tuple[float, float, list[str]]:
    """(lost, double-counted, differences): a count below the clean one is lost, above it counted twice."""
    lost = double = 0.0
    diffs = []
    for k, want in clean.items():
        have = got.get(k, 0)
        if have != want:
            diffs.append(f"{k}: clean {want}, soak {have}")
            if have < want:
                lost += want - have
            else:
                double += have - want
    return lost, double, diffs


# ---- the run ------------------------------------------------------------------------------------------------


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--smoke", action="store_true", help="a few seconds, one fault of each kind")
    ap.add_argument("--seconds", type=float, default=120.0, help="how long the file is written for")
    ap.add_argument("--rate", type=float, default=2500.0, help="queue_log lines a second")
    ap.add_argument("--kills", type=int, default=3, help="ingester SIGKILLs")
    ap.add_argument("--redis-restarts", type=int, default=2, help="Redis SIGKILLs (restarted from the AOF)")
    args = ap.parse_args()
    if args.smoke:
        args.seconds, args.rate, args.kills, args.redis_restarts = 6.0, 2000.0, 1, 1

    work = Path(tempfile.mkdtemp(prefix="wbsoak-run"))
    sample_lines = 7340
    src, days = B.long_queue_log(int(args.seconds * args.rate * 11_441 / sample_lines), work)
    lines = src.read_text(encoding="utf-8").splitlines()
    live = work / "queue_log"
    live.touch()

    server = Server()
    server.start()
    B.print_machine(server.url, f"private {server.kind}, AOF everysec, restarted by the soak")
    B.say(
        f"soak: {len(lines):,} lines ({days} simulated days) at {args.rate:,.0f} lines/s, "
        f"{args.kills} ingester kill(s), {args.redis_restarts} Redis restart(s)"
    )
    ingester = Ingester(server.url, live, work)
    view = View(server.url)
    from wallboard.config import load_config

    config = load_config(CONFIG)
    writer = Writer(lines, live, args.rate, max(q.wrapup_s for q in config.queues))
    mem: list[tuple[float, int, float | None, float | None]] = []  # (t, generation, rss MB, redis MB)
    recovery: dict[str, list[float]] = {"ingester": [], "redis": []}
    try:
        ingester.start()
        view.start()
        t0 = time.monotonic()
        writer.start()
        faults = _alternate(args.kills, args.redis_restarts)
        plan = [(args.seconds * (i + 1) / (len(faults) + 1), kind) for i, kind in enumerate(faults)]
        next_sample = 0.0
        for at, kind in plan + [(None, None)]:
            while at is None or time.monotonic() - t0 < at:
                now = time.monotonic() - t0
                if now >= next_sample:
                    mem.append((now, ingester.generation, ingester.rss_mb(), _redis_mb(server.url)))
                    next_sample = now + max(0.5, args.seconds / 40)
                if at is None and not writer.is_alive():
                    break
                time.sleep(0.05)
            if kind == "kill":
                ingester.kill()
                time.sleep(0.3)
                ingester.start()
                recovery["ingester"].append(time.monotonic())
            elif kind == "redis":
                server.kill()
                time.sleep(1.0)
                server.start()
                recovery["redis"].append(time.monotonic())
        # the writer is done: wait for the ingester to read the file to its end
        total = writer.written + writer.bad
        caught = _wait_cursor(server.url, live, total, timeout=120 + args.seconds)
        time.sleep(1.5)  # one more tick: a snapshot after the last events
        ingester.stop()
        wall = time.monotonic() - t0
        view.done.set()
        if not caught:
            B.say("soak: the ingester never reached the end of the file")
            return 1

        # the clean run: an offline replay of the same file into its own namespace
        last = _last_epoch(live)
        nows = [datetime.fromtimestamp(last - 86_400 * k + 1, timezone.utc) for k in range(days)][::-1]
        from wallboard.feed import load_feed
        from wallboard.replay import replay

        asyncio.run(
            replay(load_feed("queue-log", str(live), config), config, redis_url=server.url, prefix=PREFIX + "-clean")
        )
        clean = asyncio.run(day_counts(server.url, PREFIX + "-clean", nows))
        got = asyncio.run(day_counts(server.url, PREFIX, nows))
        lost, double, diffs = compare(clean, got)
        for d in diffs[:20]:
            B.say(f"  differs: {d}")

        # figures
        B.say("memory over time (t s, ingester run, ingester RSS MB, Redis used_memory MB):")
        for t, gen, rss, rmb in mem:
            B.say(f"  {t:7.1f}  run {gen}  {_fmt(rss):>7}  {_fmt(rmb):>7}")
        gaps = [b - a for a, b in zip(view.arrivals, view.arrivals[1:])]
        rec_i = [(view.first_after(t) or float("nan")) - t for t in recovery["ingester"]]
        rec_r = [(view.first_after(t) or float("nan")) - t for t in recovery["redis"]]
        applied = _applied(server.url)
        longest = _longest_run(mem)
        B.figure("soak.lines", total, "lines", f"{writer.bad} malformed")
        B.figure("soak.days", days, "simulated days")
        B.figure("soak.wall_s", wall, "s")
        B.figure("soak.events_applied", applied, "transitions", "each counted once")
        B.figure("soak.dead_letters", got["dead_letters"], "records", f"written {writer.bad}")
        B.figure(
            "soak.faults_injected",
            len(plan),
            "faults",
            f"{args.kills} ingester SIGKILL, {args.redis_restarts} Redis SIGKILL",
        )
        B.figure("soak.reconnects", ingester.reconnects(), "", "ingester runs that found Redis back")
        B.figure("soak.events_lost", _num(lost), "")
        B.figure("soak.events_double_counted", _num(double), "")
        B.figure("soak.longest_stale_s", max(gaps) if gaps else float("nan"), "s", "longest gap between snapshots")
        B.figure("soak.recovery_after_ingester_kill_s", max(rec_i) if rec_i else 0.0, "s", "restart to next snapshot")
        B.figure(
            "soak.recovery_after_redis_restart_s",
            max(rec_r) if rec_r else 0.0,
            "s",
            "server answering to next snapshot",
        )
        B.figure("soak.ingester_rss_first_mb", longest[0], "MB", "the longest-lived ingester run, at its start")
        B.figure("soak.ingester_rss_last_mb", longest[1], "MB", "the same run at its end")
        B.figure("soak.redis_memory_end_mb", _redis_mb(server.url) or 0.0, "MB")
        ok = lost == 0 and double == 0 and got["dead_letters"] == writer.bad
        B.say("soak: " + ("OK — nothing lost, nothing counted twice" if ok else "FAILED — see the differences"))
        return 0 if ok else 1
    finally:
        view.done.set()
        if ingester.proc is not None and ingester.proc.poll() is None:
            ingester.kill()
        if not os.environ.get("WBSOAK_KEEP"):
            server.stop()
        else:
            B.say(f"kept: {server.url} {work}")


def _alternate(kills: int, restarts: int) -> list[str]:
    """Ingester kills and Redis restarts taking turns, the leftover of the larger kind at the end."""
    out = []
    for i in range(max(kills, restarts)):
        if i < kills:
            out.append("kill")
        if i < restarts:
            out.append("redis")
    return out


def _redis_mb(url: str) -> float | None:
    try:
        return B.used_memory(redis.Redis.from_url(url, socket_timeout=1)) / 2**20
    except (redis.ConnectionError, redis.TimeoutError, redis.BusyLoadingError, OSError):
        return None


def _cursor_line(url: str, path: Path) -> int:
    key = f"{PREFIX}:{{c}}:cursor:queue-log:{os.path.abspath(path)}"
    try:
        raw = redis.Redis.from_url(url, socket_timeout=1).get(key)
    except (redis.ConnectionError, redis.TimeoutError, redis.BusyLoadingError, OSError):
        return -1
    return json.loads(raw)["line"] if raw else 0


def _wait_cursor(url: str, path: Path, total: int, timeout: float) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if _cursor_line(url, path) >= total:
            return True
        time.sleep(0.2)
    return False


def _last_epoch(path: Path) -> int:
    last = 0
    for line in path.read_text(encoding="utf-8").splitlines():
        head = line.split("|", 1)[0]
        if head.isdigit():
            last = max(last, int(head))
    return last


def _applied(url: str) -> int:
    """Transitions applied over every queue (the queues' ``:stats`` hashes)."""
    r = redis.Redis.from_url(url, decode_responses=True)
    return sum(int(r.hget(k, "applied") or 0) for k in r.scan_iter(match=f"{PREFIX}:{{q:*}}:stats"))


def _longest_run(mem: list) -> tuple[float, float]:
    """RSS of the ingester run with the most samples: its first sample after start-up and its last."""
    by_gen: dict[int, list[float]] = {}
    for _, gen, rss, _ in mem:
        if rss is not None:
            by_gen.setdefault(gen, []).append(rss)
    if not by_gen:
        return float("nan"), float("nan")
    samples = max(by_gen.values(), key=len)
    return samples[min(1, len(samples) - 1)], samples[-1]


def _num(v: float) -> int | float:
    return int(v) if v == int(v) else v


def _fmt(v: float | None) -> str:
    return "down" if v is None else f"{v:.1f}"


if __name__ == "__main__":
    sys.exit(main())
