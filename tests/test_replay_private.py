"""A throwaway replay (no --prefix, no server named) runs on a private, non-persistent server started for it alone,
never on the shared embedded one (issue 16, item 5): the shared server sees no connection, no key and no AOF
growth; the figures are those of a replay into a namespace; the private server and its directory are gone at
the end, also after an error, Ctrl-C or a killed replay. And a server still loading its data (it answers
``-LOADING``) is waited for instead of reported unreachable.

Every server here is a real valkey-server (the embedded binary). The "shared" server is the embedded one, started
by ``ensure_embedded`` in a fresh state directory (WALLBOARD_STATE_DIR), with its AOF. A real LOADING is made
deterministic with the server's own ``key-load-delay`` (microseconds of sleep per key loaded, a setting its test
suite uses for this) and ``loading-process-events-interval-bytes`` (how often it answers clients while loading).
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import pytest
import redis

from feeds.queue_log import QueueLogFeed
from wallboard import redis_server
from wallboard.config import load_config
from wallboard.redis_server import EmbeddedPaths, binary_path, ensure_embedded
from wallboard.replay import drop_namespace_sync, replay
from wallboard.store import StoreUnavailable, connect, connect_sync

from .conftest import redis_url
from .polling import wait_until

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "config" / "wallboard.toml"
SAMPLE = ROOT / "samples" / "sample_day.queue_log"
WALLBOARD = Path(sys.executable).with_name("wallboard")
BIN = str(binary_path())
SUITE_URL = redis_url()  # the suite's server (conftest): clean_env takes REDIS_URL out of the environment


# ---- helpers ------------------------------------------------------------------------------------------------


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/status") as f:
            return "\nState:\tZ" not in f.read()
    except FileNotFoundError:
        return False


def servers_in(directory: Path) -> list[int]:
    """Pids of live valkey-server processes whose working directory is ``directory`` (their --dir)."""
    exe, where = binary_path().resolve(), directory.resolve()
    pids = []
    for p in Path("/proc").iterdir():
        if not p.name.isdigit():
            continue
        try:
            if Path(os.readlink(p / "exe")).resolve() == exe and Path(os.readlink(p / "cwd")).resolve() == where:
                if _alive(int(p.name)):
                    pids.append(int(p.name))
        except OSError:
            continue
    return pids


def aof_bytes(paths: EmbeddedPaths) -> int:
    return sum(f.stat().st_size for f in paths.data.rglob("*") if f.is_file())


def clean_env(monkeypatch, state: Path, tmp: Path) -> None:
    """As a user without REDIS_URL: the shared server is the embedded one of ``state``; temporary
    directories (the private server's) go under ``tmp``, so what is left there is seen."""
    for k in list(os.environ):
        if k == "REDIS_URL" or (k.startswith("WALLBOARD_") and k != "WALLBOARD_SHARED_DATA"):
            monkeypatch.delenv(k)
    monkeypatch.setenv("WALLBOARD_STATE_DIR", str(state))
    monkeypatch.setenv("TMPDIR", str(tmp))
    monkeypatch.setattr(tempfile, "tempdir", None)  # re-read TMPDIR in this process


def cli_env(state: Path, tmp: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL" and not k.startswith("WALLBOARD_")}
    env.update(WALLBOARD_STATE_DIR=str(state), TMPDIR=str(tmp))
    return env


def snapshot_of(snap) -> dict:
    return json.loads(snap.model_dump_json())


@pytest.fixture
def shared(monkeypatch):
    """(paths, client): a shared embedded server with AOF in a fresh state directory, plus an empty TMPDIR."""
    state = Path(tempfile.mkdtemp(prefix="wbp", dir="/tmp"))
    tmp = state / "tmp"
    tmp.mkdir()
    paths = EmbeddedPaths(state)
    clean_env(monkeypatch, state, tmp)
    ensure_embedded(paths)
    client = redis.Redis(unix_socket_path=str(paths.socket), decode_responses=True)
    try:
        yield paths, client
    finally:
        client.close()
        redis_server.stop(paths)
        for pid in servers_in(paths.data):
            os.kill(pid, signal.SIGKILL)
        shutil.rmtree(state, ignore_errors=True)


def private_dirs(tmp: Path) -> list[Path]:
    return sorted(tmp.glob("wbreplay-*"))


# ---- the throwaway replay runs on a private server ------------------------------------------------------------


def test_throwaway_replay_leaves_the_shared_server_untouched(shared):
    paths, client = shared
    tmp = Path(os.environ["TMPDIR"])
    client.set("mine", "kept")
    client.config_set("appendfsync", "always")  # every write on disk at once: any growth shows at once
    before_keys, before_aof = client.dbsize(), aof_bytes(paths)
    before_conns = int(client.info("stats")["total_connections_received"])
    before_cmds = int(client.info("stats")["total_commands_processed"])

    out = subprocess.run(
        [str(WALLBOARD), "replay", "--feed", "queue-log", str(SAMPLE), "--json"],
        env=cli_env(paths.root, tmp),
        cwd=paths.root,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr
    snap = json.loads(out.stdout)
    assert snap["total"]["entered"] > 1000
    assert "namespace" not in out.stderr  # nothing to say: no server was named

    stats = client.info("stats")
    assert int(stats["total_connections_received"]) == before_conns  # nobody else connected
    assert int(stats["total_commands_processed"]) == before_cmds + 1  # our 2nd INFO (one counts after it ran)
    assert client.dbsize() == before_keys and client.get("mine") == "kept"
    assert aof_bytes(paths) == before_aof
    assert private_dirs(tmp) == []  # the private server's directory is gone


def test_throwaway_replay_equals_a_replay_into_a_namespace(shared, monkeypatch):
    paths, client = shared
    tmp = Path(os.environ["TMPDIR"])
    config = load_config(CONFIG)
    ns = f"wbpriv-{uuid.uuid4().hex[:8]}"
    before_aof = aof_bytes(paths)
    private, pstats = asyncio.run(replay(QueueLogFeed(str(SAMPLE), config), config))
    assert aof_bytes(paths) == before_aof and client.dbsize() == 0
    url = SUITE_URL
    try:
        named, nstats = asyncio.run(replay(QueueLogFeed(str(SAMPLE), config), config, redis_url=url, prefix=ns))
    finally:
        r = redis.Redis.from_url(url)
        drop_namespace_sync(r, ns)
        r.close()
    assert snapshot_of(private) == snapshot_of(named)
    assert (pstats.events, pstats.applied, pstats.duplicates, pstats.dead_letters) == (
        nstats.events,
        nstats.applied,
        nstats.duplicates,
        nstats.dead_letters,
    )
    assert pstats.events > 10_000
    assert private_dirs(tmp) == []


def test_a_named_server_keeps_the_throwaway_namespace_and_says_so(shared):
    paths, client = shared
    tmp = Path(os.environ["TMPDIR"])
    url = SUITE_URL
    env = cli_env(paths.root, tmp) | {"REDIS_URL": url}
    r = redis.Redis.from_url(url)

    def replay_namespaces() -> set[bytes]:
        # the replay's own keys, not the database's size: the suite's server is shared with other runs writing to it
        return {k.split(b":", 1)[0] for k in r.scan_iter(match="wbreplay-*", count=1000)}

    before = replay_namespaces()
    out = subprocess.run(
        [str(WALLBOARD), "replay", "--feed", "queue-log", str(SAMPLE), "--json"],
        env=env,
        cwd=paths.root,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr
    assert "throwaway replay in a temporary namespace on" in out.stderr and url in out.stderr
    assert replay_namespaces() <= before  # dropped at the end
    r.close()
    assert client.dbsize() == 0 and private_dirs(tmp) == []


def test_with_a_prefix_the_replay_goes_to_the_shared_server_and_stays(shared):
    paths, client = shared
    tmp = Path(os.environ["TMPDIR"])
    out = subprocess.run(
        [str(WALLBOARD), "replay", "--feed", "queue-log", str(SAMPLE), "--json", "--prefix", "kept"],
        env=cli_env(paths.root, tmp),
        cwd=paths.root,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr
    assert next(client.scan_iter("kept:*", count=1000), None) is not None
    assert private_dirs(tmp) == []


class FailingFeed:
    """The sample day, then an error after ``n`` events (the private server is running by then)."""

    name = "queue-log"

    def __init__(self, config, n: int, tmp: Path, exc: BaseException):
        self.inner, self.n, self.tmp, self.exc = QueueLogFeed(str(SAMPLE), config), n, tmp, exc
        self.seen: list[tuple[Path, list[int]]] = []

    def read(self):
        for i, item in enumerate(self.inner.read()):
            if i == self.n:
                dirs = private_dirs(self.tmp)
                self.seen = [(d, servers_in(d)) for d in dirs]
                raise self.exc
            yield item


def test_the_private_server_keeps_sorted_sets_of_more_than_8_members_as_skip_lists():
    with redis_server.PrivateServer() as server:
        r = redis.Redis.from_url(server.url)
        assert r.config_get("zset-max-listpack-entries") == {"zset-max-listpack-entries": "8"}
        r.zadd("small", {f"m{i}": i for i in range(8)})
        r.zadd("large", {f"m{i}": i for i in range(9)})
        assert r.object("encoding", "small") == b"listpack" and r.object("encoding", "large") == b"skiplist"
        r.close()


@pytest.mark.parametrize("exc", [ValueError("a broken feed"), KeyboardInterrupt()], ids=["error", "ctrl-c"])
def test_the_private_server_is_removed_after_an_error(shared, exc):
    paths, client = shared
    tmp = Path(os.environ["TMPDIR"])
    config = load_config(CONFIG)
    feed = FailingFeed(config, 8_000, tmp, exc)  # (of 11,496: a batch is applied by then)
    with pytest.raises(type(exc)):
        asyncio.run(replay(feed, config))
    assert len(feed.seen) == 1, feed.seen  # one private server was running, in its own directory
    (d, pids) = feed.seen[0]
    assert len(pids) == 1
    wait_until(lambda: not _alive(pids[0]))
    assert not d.exists() and private_dirs(tmp) == []
    assert client.dbsize() == 0


def test_ctrl_c_on_the_command_stops_the_private_server(shared):
    paths, _ = shared
    tmp = Path(os.environ["TMPDIR"])
    big = paths.root / "big.queue_log"
    big.write_text(SAMPLE.read_text() * 5)  # (repeats are duplicates: only reading them takes time)
    proc = subprocess.Popen(
        [str(WALLBOARD), "replay", "--feed", "queue-log", str(big), "--json"],
        env=cli_env(paths.root, tmp),
        cwd=paths.root,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    wait_until(lambda: private_dirs(tmp) and servers_in(private_dirs(tmp)[0]), timeout=30)
    pid = servers_in(private_dirs(tmp)[0])[0]
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode in (130, 0), err  # 0: it had finished before the signal came
    wait_until(lambda: not _alive(pid))
    assert private_dirs(tmp) == []


def test_a_killed_replay_takes_its_private_server_with_it(shared):
    paths, _ = shared
    tmp = Path(os.environ["TMPDIR"])
    proc = subprocess.Popen(
        [str(WALLBOARD), "replay", "--feed", "queue-log", str(SAMPLE), "--json"],
        env=cli_env(paths.root, tmp),
        cwd=paths.root,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_until(lambda: private_dirs(tmp) and servers_in(private_dirs(tmp)[0]), timeout=30)
    pid = servers_in(private_dirs(tmp)[0])[0]
    proc.kill()
    proc.wait(10)
    wait_until(lambda: not _alive(pid))  # PR_SET_PDEATHSIG: no server left behind by a SIGKILL


# ---- a server loading its data is waited for -----------------------------------------------------------------

KEYS = 300
DELAY_US = 10_000  # per key: ~3 s of LOADING; values of 1.5 kB that do not compress, and events processed every
# 1 kB read: the server answers between any two keys, within ~10 ms


def fill(sock: Path) -> None:
    r = redis.Redis(unix_socket_path=str(sock))
    pipe = r.pipeline(transaction=False)
    for i in range(KEYS):
        pipe.set(f"load:{i}", os.urandom(1500))
    pipe.execute()
    r.close()


def slow_load_args(delay_us: int = DELAY_US) -> list[str]:
    return ["--key-load-delay", str(delay_us), "--loading-process-events-interval-bytes", "1024"]


@pytest.fixture
def loading_server():
    """start(): a private server on a unix socket that spends ~2.4 s answering -LOADING (an RDB of KEYS keys)."""
    root = Path(tempfile.mkdtemp(prefix="wbl", dir="/tmp"))
    sock = root / "s.sock"
    procs: list[subprocess.Popen] = []
    base = [
        BIN,
        "--port",
        "0",
        "--unixsocket",
        str(sock),
        "--dir",
        str(root),
        "--appendonly",
        "no",
        "--save",
        "",
        "--daemonize",
        "no",
    ]
    p = subprocess.Popen(base, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    procs.append(p)
    wait_until(lambda: redis_server._probe(sock) == "up")
    fill(sock)
    r = redis.Redis(unix_socket_path=str(sock))
    r.save()
    r.shutdown(nosave=True)
    p.wait(10)

    def start() -> str:
        q = subprocess.Popen([*base, *slow_load_args()], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        procs.append(q)
        wait_until(lambda: redis_server._probe(sock) == "loading", timeout=5)
        return f"unix://{sock}"

    try:
        yield start
    finally:
        for q in procs:
            if q.poll() is None:
                q.kill()
                q.wait()
        shutil.rmtree(root, ignore_errors=True)


def test_async_connect_waits_while_the_server_loads(loading_server, capsys):
    url = loading_server()
    config = load_config(CONFIG)

    async def go():
        t0 = time.monotonic()
        client = await connect(config, url)
        waited = time.monotonic() - t0
        n = await client.dbsize()
        await client.aclose()
        return waited, n

    waited, n = asyncio.run(go())
    assert n == KEYS and waited > 0.5
    err = capsys.readouterr().err
    assert err.count("is loading its data (") == 1, err
    assert "MB)" in err


def test_sync_connect_waits_while_the_server_loads(loading_server, capsys):
    url = loading_server()
    client = connect_sync(load_config(CONFIG), url)
    assert client.dbsize() == KEYS
    client.close()
    assert capsys.readouterr().err.count("is loading its data (") == 1


def test_the_wait_is_bounded(loading_server, monkeypatch):
    url = loading_server()
    monkeypatch.setattr(redis_server, "LOADING_WAIT_S", 0.3)
    t0 = time.monotonic()
    with pytest.raises(StoreUnavailable, match="still loading its data after"):
        connect_sync(load_config(CONFIG), url)
    assert time.monotonic() - t0 < 2


def test_a_command_waits_for_the_shared_server_loading_its_aof(shared):
    """The shared server restarted on a big AOF: `wallboard snapshot` waits for it (saying so) instead of failing,
    and no second server is started on the same files."""
    paths, client = shared
    tmp = Path(os.environ["TMPDIR"])
    env = cli_env(paths.root, tmp)
    out = subprocess.run(
        [str(WALLBOARD), "replay", "--feed", "queue-log", str(SAMPLE), "--json", "--prefix", "p"],
        env=env,
        cwd=paths.root,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr
    replayed = json.loads(out.stdout)
    # ~8 s of loading, whatever the number of keys: two CLI processes must start within it (~3 s was not always
    # enough on a loaded machine, where a CLI's start-up alone can take over a second)
    delay_us = max(1, int(8e6 / client.dbsize()))
    client.bgrewriteaof()  # the AOF's base becomes an RDB, which key-load-delay slows down
    wait_until(
        lambda: (
            client.info("persistence")["aof_rewrite_in_progress"] == 0
            and client.info("persistence")["aof_rewrite_scheduled"] == 0
        )
    )
    assert redis_server.stop(paths)
    wait_until(lambda: servers_in(paths.data) == [])
    # started as ensure_embedded starts it, plus the slow load
    subprocess.run(
        [
            BIN,
            "--daemonize",
            "yes",
            "--port",
            "0",
            "--unixsocket",
            str(paths.socket),
            "--unixsocketperm",
            "700",
            "--dir",
            str(paths.data),
            "--pidfile",
            str(paths.pidfile),
            "--logfile",
            str(paths.logfile),
            "--appendonly",
            "yes",
            "--appendfsync",
            "everysec",
            "--save",
            "",
            *slow_load_args(delay_us),
        ],
        check=True,
        capture_output=True,
    )
    wait_until(lambda: redis_server._probe(paths.socket) == "loading", timeout=5)
    status = subprocess.run([str(WALLBOARD), "redis", "status"], env=env, capture_output=True, text=True, timeout=30)
    info = json.loads(status.stdout)
    assert status.returncode == 0 and info["running"] is True and info["loading"] is True, status.stdout
    shown = subprocess.run(
        [str(WALLBOARD), "snapshot", "--json", "--prefix", "p"],
        env=env,
        cwd=paths.root,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert shown.returncode == 0, shown.stderr
    assert shown.stderr.count("is loading its data (") == 1, shown.stderr
    assert json.loads(shown.stdout)["queues"] == replayed["queues"]
    assert len(servers_in(paths.data)) == 1
