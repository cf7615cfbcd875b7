"""What the benchmarks share: the machine they ran on, a private Redis, redis-benchmark, figure lines, inputs.

Every benchmark prints one ``machine:`` line and its results as ``figure NAME = VALUE UNIT`` lines (the smoke
test in tests/test_bench_smoke.py looks for both). By default a benchmark starts its own Redis (Debian's
``redis-server`` when installed, else the embedded valkey binary) on a free loopback port with persistence
off, so figures are not disturbed by other users of a shared server, ``INFO`` memory and CPU are ours alone,
and ``redis-benchmark`` measures the very server the wallboard used; ``--redis URL`` uses a given server.
"""

from __future__ import annotations

import os
import platform
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlparse

import redis

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.append(str(ROOT))  # last: an installed wallboard (or PYTHONPATH) wins, as it would for the CLI


# ---- output -------------------------------------------------------------------------------------------


def figure(name: str, value, unit: str = "", note: str = "") -> None:
    """One result line: ``figure NAME = VALUE UNIT  (note)``."""
    if isinstance(value, float):
        value = f"{value:,.3f}" if abs(value) < 10 else f"{value:,.0f}"
    elif isinstance(value, int):
        value = f"{value:,}"
    tail = f"  ({note})" if note else ""
    print(f"figure {name} = {value}{(' ' + unit) if unit else ''}{tail}", flush=True)


def say(text: str) -> None:
    print(text, flush=True)


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def print_machine(url: str, how: str) -> dict:
    """The ``machine:`` line: CPU model, cores, Python, Redis version and where it runs, load average."""
    info = redis.Redis.from_url(url).info("server")
    server = info.get("valkey_version") and f"Valkey {info['valkey_version']}" or f"Redis {info['redis_version']}"
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    m = {
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "redis": server,
        "redis_where": how,
        "load": load,
    }
    say(
        f"machine: cpu={m['cpu']!r} cores={m['cores']} python={m['python']} redis={server} ({how}) "
        f"loadavg_1m={load:.2f} platform={platform.platform()}"
    )
    return m


# ---- a private Redis ----------------------------------------------------------------------------------


def _server_binary() -> tuple[str, str]:
    for cand in (shutil.which("redis-server"), "/usr/bin/redis-server"):
        if cand and os.access(cand, os.X_OK):
            return cand, "redis-server"
    from wallboard.redis_server import binary_path

    return str(binary_path()), "embedded valkey-server"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def redis_server(url: str | None = None, extra: list[str] | None = None):
    """Yield (url, description): the given server, or a private one started here and stopped at the end."""
    if url:
        yield url, f"given server {url}"
        return
    binary, kind = _server_binary()
    root = tempfile.mkdtemp(prefix="wbbench")
    port = _free_port()
    proc = subprocess.Popen(
        [
            binary,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            root,
            "--daemonize",
            "no",
            "--protected-mode",
            "no",
            *(extra or []),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/0"
    try:
        client = redis.Redis.from_url(url)
        for _ in range(500):
            try:
                client.ping()
                break
            except redis.ConnectionError:
                if proc.poll() is not None:
                    raise RuntimeError(f"{binary} exited at start ({proc.returncode})") from None
                time.sleep(0.01)
        client.close()
        yield url, f"private {kind} {binary} on 127.0.0.1:{port}, no persistence"
    finally:
        try:
            redis.Redis.from_url(url).shutdown(nosave=True)
        except (redis.ConnectionError, redis.ResponseError, OSError):
            pass
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
        shutil.rmtree(root, ignore_errors=True)


def redis_cpu_s(client: redis.Redis) -> float:
    """Seconds of CPU the server has used (user + system, all its threads)."""
    i = client.info("cpu")
    return float(i["used_cpu_user"]) + float(i["used_cpu_sys"])


def used_memory(client: redis.Redis) -> int:
    return int(client.info("memory")["used_memory"])


# ---- redis-benchmark ------------------------------------------------------------------------------------


def benchmark_binary() -> str | None:
    for cand in (shutil.which("redis-benchmark"), "/usr/bin/redis-benchmark", shutil.which("valkey-benchmark")):
        if cand and os.access(cand, os.X_OK):
            return cand
    return None


def redis_benchmark(
    url: str,
    args: list[str],
    *,
    requests: int,
    clients: int = 50,
    pipeline: int = 1,
    keyspace: int | None = None,
    timeout: float = 300,
) -> float | None:
    """Requests per second reported by ``redis-benchmark`` (None when it is not installed)."""
    binary = benchmark_binary()
    if binary is None:
        return None
    u = urlparse(url)
    cmd = [
        binary,
        "-h",
        u.hostname or "127.0.0.1",
        "-p",
        str(u.port or 6379),
        "-n",
        str(requests),
        "-c",
        str(clients),
        "-P",
        str(pipeline),
        "-q",
    ]
    if u.password:
        cmd += ["-a", u.password]
    if keyspace:
        cmd += ["-r", str(keyspace)]
    out = subprocess.run(cmd + args, capture_output=True, text=True, timeout=timeout)
    text = out.stdout + out.stderr
    if out.returncode != 0 or "ERR" in text or "Error" in text:
        raise RuntimeError(f"redis-benchmark failed: {text.strip()[-500:]}")
    found = re.findall(r"([0-9.]+) requests per second", text)
    return float(found[-1]) if found else None


def raw_ceiling(url: str, smoke: bool, prefix: str = "wbbench-raw") -> dict[str, float | None]:
    """redis-benchmark's SET and HINCRBY, one command per round trip and 100 per round trip (50 clients)."""
    n = 5_000 if smoke else 400_000
    out = {}
    for name, args in (
        ("SET", ["SET", f"{prefix}:{{s}}:__rand_int__", "xxx"]),
        ("HINCRBY", ["HINCRBY", f"{prefix}:{{h}}:__rand_int__", "f", "1"]),
    ):
        out[f"{name} P1"] = redis_benchmark(url, args, requests=n, pipeline=1, keyspace=100_000)
        out[f"{name} P100"] = redis_benchmark(url, args, requests=n * 5, pipeline=100, keyspace=100_000)
    drop_sync(redis.Redis.from_url(url), prefix)
    return out


def drop_sync(client: redis.Redis, prefix: str) -> int:
    """Delete a key namespace, fast (big SCAN pages, UNLINK)."""
    n = 0
    pipe = client.pipeline(transaction=False)
    for k in client.scan_iter(match=f"{prefix}:*", count=10_000):
        pipe.unlink(k)
        n += 1
        if len(pipe) >= 10_000:
            pipe.execute()
    pipe.execute()
    return n


# ---- inputs -------------------------------------------------------------------------------------------


def shared_data() -> Path:
    """``../shared/data`` as tests/conftest.py finds it (WALLBOARD_SHARED_DATA, beside the checkout, /work/...)."""
    env = os.environ.get("WALLBOARD_SHARED_DATA")
    candidates = [Path(env)] if env else []
    candidates += [p / "shared" / "data" for p in [ROOT, *ROOT.parents]]
    candidates.append(Path("/work/shared/data"))
    for c in candidates:
        if (c / "anonymous_bank").is_dir():
            return c
    raise FileNotFoundError("shared/data not found beside the checkout; set WALLBOARD_SHARED_DATA")


def long_queue_log(
    target_events: int, folder: Path, sample: Path | None = None, events_per_copy: int = 11_441
) -> tuple[Path, int]:
    """Write a queue_log of about ``target_events`` events: the sample day repeated, each copy a day later
    with its call ids made unique (``<callid>-<copy>``), the whole run moved back by whole weeks when needed so
    that its last day is over before today (the event model refuses times more than a day ahead of the wall
    clock). Returns (path, copies)."""
    sample = sample or ROOT / "samples" / "sample_day.queue_log"
    lines = sample.read_text(encoding="utf-8").splitlines()
    rows = [ln.split("|") for ln in lines if ln and not ln.startswith("#")]
    copies = max(1, -(-target_events // events_per_copy))
    last = max(int(r[0]) for r in rows) + 86_400 * (copies - 1)
    weeks_back = max(0, -(-(last - (time.time() - 86_400)) // (7 * 86_400)))  # whole weeks keep the weekdays
    path = folder / "long.queue_log"
    with open(path, "w", encoding="utf-8") as f:
        for k in range(copies):
            shift = 86_400 * k - int(weeks_back) * 7 * 86_400
            buf = []
            for parts in rows:
                p = list(parts)
                p[0] = str(int(p[0]) + shift)
                if p[1] and p[1] != "NONE":
                    p[1] = f"{p[1]}-{k}"
                buf.append("|".join(p))
            f.write("\n".join(buf) + "\n")
    return path, copies


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0..100), nearest rank on the sorted values."""
    if not values:
        return float("nan")
    v = sorted(values)
    k = max(0, min(len(v) - 1, int(round(q / 100 * len(v) + 0.5)) - 1))
    return v[k]


# ---- a generated centre -----------------------------------------------------------------------------------


async def logged_in(engine, config, now) -> None:
    """Every agent of ``config`` a member of its skills' queues and available at ``now`` (the benches' start)."""
    from wallboard.events import AgentStateChanged, MemberAdded

    logins: list = []
    for a in config.agents:
        for q, pen in a.skills.items():
            logins.append(
                MemberAdded(id=f"login{len(logins)}", ts=now, source="bench", agent=a.id, queue=q, penalty=pen)
            )
        logins.append(
            AgentStateChanged(id=f"login{len(logins)}", ts=now, source="bench", agent=a.id, state="available")
        )
    for i in range(0, len(logins), 2000):
        await engine.apply(logins[i : i + 2000])


def make_centre(queues: int, agents: int, skills: int = 2, prefix: str = "wb", **centre):
    """A config of ``queues`` queues (``q000``...) and ``agents`` agents (``a00000``...), each agent skilled in
    ``skills`` queues (its first choice at penalty 0, the others at 1), spread evenly."""
    from wallboard.config import load_config

    qs = [
        {
            "name": f"q{i:03d}",
            "sl_threshold_s": 20,
            "wrapup_s": 10,
            "thresholds": {
                "service_level": {"warn": 0.8, "breach": 0.7, "direction": "below"},
                "longest_wait_s": {"warn": 60, "breach": 120},
            },
        }
        for i in range(queues)
    ]
    ags = []
    for i in range(agents):
        first = i % queues
        sk = {f"q{(first + k * max(1, queues // skills)) % queues:03d}": (0 if k == 0 else 1) for k in range(skills)}
        ags.append({"id": f"a{i:05d}", "name": f"Agent {i}", "skills": sk})
    return load_config(
        None,
        centre={"name": f"Bench centre {agents} agents", **centre},
        queues=qs,
        agents=ags,
        redis={"prefix": prefix},
    )


def busy_scenario(calls_per_hour_per_queue: float, talk_mean_s: float = 240.0):
    """Every queue at its peak rate from the first second (the day shape placed at its top, hours ignored)."""
    from wallboard.sim.scenarios import QueueProfile, Scenario

    return Scenario(
        name="bench",
        default_queue=QueueProfile(calls_per_hour=calls_per_hour_per_queue, talk_mean_s=talk_mean_s),
        shape_anchor="start",
        shape_start_hour=10.5,
        honour_hours=False,
    )
