"""The embedded default: with REDIS_URL unset, wallboard processes share one valkey-server they start
themselves (DESIGN.md, Redis): the first starts it, the others connect, it outlives them, AOF keeps the data
across ``wallboard redis stop`` and a restart, and concurrent starters end up with a single server.

Every server started here lives in a fresh state directory and is stopped in the fixture's teardown. What
needs no process of its own (status, stop, a start that finds the server up) runs in the test's process.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
import redis

from wallboard.redis_server import binary_path

from .polling import wait_until

WALLBOARD = Path(sys.executable).with_name("wallboard")
PREFIX = "wbemb"

# A small day, by hand (UTC times; no config file, so the centre's timezone is UTC and the window starts at
# 2026-11-23T00:00:00Z):
#   support: c1 joins 09:00:00, answered 09:00:12 by 1001 (wait 12 <= 20), talk 120 s, completed 09:02:12
#            c2 joins 09:00:30, abandoned 09:00:33 (wait 3: short, within SL)
#            c3 joins 09:01:00, answered 09:01:30 by 1002 (wait 30 > 20)
#   tech:    c4 joins 09:00:05, overflows (timeout) 09:01:05 (wait 60)
#            c5 joins 09:02:00, still waiting at the end
EVENTS = [
    ("caller_joined", "09:00:00", "support", "c1", {"caller": "0501234567"}),
    ("caller_joined", "09:00:05", "tech", "c4", {}),
    ("caller_answered", "09:00:12", "support", "c1", {"agent": "1001"}),
    ("caller_joined", "09:00:30", "support", "c2", {}),
    ("caller_abandoned", "09:00:33", "support", "c2", {}),
    ("caller_joined", "09:01:00", "support", "c3", {}),
    ("caller_overflowed", "09:01:05", "tech", "c4", {"reason": "timeout"}),
    ("caller_answered", "09:01:30", "support", "c3", {"agent": "1002"}),
    ("caller_joined", "09:02:00", "tech", "c5", {}),
    ("call_completed", "09:02:12", "support", "c1", {"agent": "1001", "talk_s": 120}),
]


def write_events(path: Path) -> None:
    with path.open("w", encoding="utf-8") as f:
        for i, (kind, hms, queue, call, extra) in enumerate(EVENTS, 1):
            ev = {
                "type": kind,
                "id": f"emb:{i}",
                "ts": f"2026-11-23T{hms}Z",
                "source": f"emb:{i}",
                "queue": queue,
                "call_id": call,
                **extra,
            }
            f.write(json.dumps(ev) + "\n")


def check_figures(snap: dict) -> None:
    """The figures of EVENTS, computed by hand."""
    s = snap["queues"]["support"]
    assert (s["entered"], s["offered"], s["answered"], s["answered_within_sl"]) == (3, 3, 2, 1)
    assert (s["abandoned"], s["short_abandoned"], s["abandoned_within_sl"], s["overflowed"]) == (1, 1, 1, 0)
    assert s["completed"] == 1 and s["talk_s"] == 120
    assert s["wait_answered_s"] == 42 and s["wait_all_s"] == 45
    assert s["service_level"] == pytest.approx(1 / 2)  # excl_short_abandons: 1 / (2 + 1 - 1)
    assert s["asa_s"] == pytest.approx(21.0)
    assert s["waiting"] == 0
    t = snap["queues"]["tech"]
    assert (t["entered"], t["offered"], t["answered"], t["overflowed"]) == (2, 1, 0, 1)
    assert t["overflowed_by_reason"] == {"timeout": 1}
    assert t["service_level"] is None  # count_overflow off: 0 / 0
    assert t["waiting"] == 1 and [c["call_id"] for c in t["callers"]] == ["c5"]
    # "now" is the last event + 1 s = 09:02:13; c5 has waited 13 s
    assert snap["at"] == "2026-11-23T09:02:13Z"
    assert t["longest_wait_s"] == pytest.approx(13.0)
    assert snap["total"]["entered"] == 5 and snap["total"]["offered"] == 4
    assert snap["agents"]["1001"]["calls_handled"] == 1 and snap["agents"]["1002"]["calls_handled"] == 1


def _env(state: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL" and not k.startswith("WALLBOARD_")}
    env["WALLBOARD_STATE_DIR"] = str(state)
    return env


def wb(state: Path, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(WALLBOARD), *args], env=_env(state), cwd=state, capture_output=True, text=True, timeout=timeout
    )


def wb_here(monkeypatch, capsys, state: Path, *args: str) -> tuple[int, str]:
    """The same command in this process, for what needs no process of its own (status, stop, a start that finds
    the server running): the environment as ``wb`` gives it; the return code and what it printed."""
    from wallboard import cli

    with monkeypatch.context() as m:
        for k in list(os.environ):
            if k == "REDIS_URL" or k.startswith("WALLBOARD_"):
                m.delenv(k)
        m.setenv("WALLBOARD_STATE_DIR", str(state))
        capsys.readouterr()
        code = cli.main(list(args))
        return code, capsys.readouterr().out


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/status") as f:
            return "\nState:\tZ" not in f.read()
    except FileNotFoundError:
        return False


def servers_in(state: Path) -> list[int]:
    """Pids of valkey-server processes working in this state directory (their cwd is its data dir)."""
    exe = binary_path().resolve()
    data = (state / "redis-data").resolve()
    pids = []
    for p in Path("/proc").iterdir():
        if not p.name.isdigit():
            continue
        try:
            if Path(os.readlink(p / "exe")).resolve() == exe and Path(os.readlink(p / "cwd")).resolve() == data:
                if _alive(int(p.name)):
                    pids.append(int(p.name))
        except (FileNotFoundError, PermissionError, ProcessLookupError, OSError):
            continue
    return pids


def run_id(state: Path) -> str:
    r = redis.Redis(unix_socket_path=str(state / "redis.sock"), decode_responses=True, socket_timeout=5)
    try:
        return r.info("server")["run_id"]
    finally:
        r.close()


@pytest.fixture
def state_dir():
    # short, fresh and private: unix socket paths must stay under ~100 characters
    state = Path(tempfile.mkdtemp(prefix="wb", dir="/tmp"))
    assert len(str(state / "redis.sock")) < 100
    try:
        yield state
    finally:
        try:
            from wallboard.redis_server import EmbeddedPaths, stop

            stop(EmbeddedPaths(state))
        finally:
            for pid in servers_in(state):  # only servers of this directory: started by this test
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            try:
                wait_until(lambda: not servers_in(state), "no embedded server left running", timeout=5, every=0.05)
            finally:
                shutil.rmtree(state, ignore_errors=True)


def test_wallboard_script_is_installed():
    assert WALLBOARD.exists(), f"no wallboard console script next to {sys.executable}"


def test_two_processes_share_one_embedded_server_that_outlives_them(state_dir: Path, monkeypatch, capsys):
    feed = state_dir / "day.jsonl"
    write_events(feed)
    assert servers_in(state_dir) == []

    # 1st process: replays into the namespace PREFIX (kept: --prefix given), starting the server
    first = wb(state_dir, "replay", "--feed", "jsonl", str(feed), "--json", "--prefix", PREFIX)
    assert first.returncode == 0, first.stderr
    replayed = json.loads(first.stdout)
    check_figures(replayed)
    assert replayed["seq"] == 1 and replayed["dead_letters"] == 0

    # the replay process has exited; its server has not
    pids = servers_in(state_dir)
    assert len(pids) == 1, pids
    server_pid = pids[0]
    assert (state_dir / "redis.sock").exists()
    assert int((state_dir / "redis.pid").read_text().strip()) == server_pid
    rid = run_id(state_dir)

    # 2nd process: reads the same figures from the same server
    second = wb(state_dir, "snapshot", "--json", "--prefix", PREFIX)
    assert second.returncode == 0, second.stderr
    shown = json.loads(second.stdout)
    check_figures(shown)
    assert shown["seq"] == 1 and shown["at"] == replayed["at"]
    assert shown["queues"] == json.loads(first.stdout)["queues"]
    assert servers_in(state_dir) == [server_pid] and run_id(state_dir) == rid

    code, out = wb_here(monkeypatch, capsys, state_dir, "redis", "status")
    assert code == 0
    info = json.loads(out)
    assert info["running"] is True
    assert int(info["pid"]) == server_pid
    assert info["socket"] == str(state_dir / "redis.sock")
    assert info["data"] == str(state_dir / "redis-data")
    assert info["keys"] > 0

    assert wb_here(monkeypatch, capsys, state_dir, "redis", "stop") == (0, "stopped\n")
    wait_until(lambda: not _alive(server_pid), "the stopped server's process gone", every=0.05)
    assert servers_in(state_dir) == []
    code, out = wb_here(monkeypatch, capsys, state_dir, "redis", "status")
    assert code == 1 and json.loads(out)["running"] is False
    assert wb_here(monkeypatch, capsys, state_dir, "redis", "stop") == (0, "not running\n")

    # 3rd process: starts the server again; the AOF kept the namespace
    third = wb(state_dir, "snapshot", "--json", "--prefix", PREFIX)
    assert third.returncode == 0, third.stderr
    restored = json.loads(third.stdout)
    check_figures(restored)
    assert restored["seq"] == 1 and restored["queues"] == shown["queues"] and restored["agents"] == shown["agents"]
    pids = servers_in(state_dir)
    assert len(pids) == 1
    assert run_id(state_dir) != rid  # a new server, not the old one
    assert list((state_dir / "redis-data").rglob("*.aof")), "no AOF file in the data directory"


def test_concurrent_starts_yield_a_single_server(state_dir: Path, monkeypatch, capsys):
    procs = [
        subprocess.Popen(
            [str(WALLBOARD), "redis", "start"],
            env=_env(state_dir),
            cwd=state_dir,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    outs = [p.communicate(timeout=60) for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0, 0], [e for _, e in outs]
    urls = {o.strip() for o, _ in outs}
    assert urls == {f"unix://{state_dir / 'redis.sock'}"}
    pids = servers_in(state_dir)
    assert len(pids) == 1, f"{len(pids)} servers: {pids}"
    code, out = wb_here(monkeypatch, capsys, state_dir, "redis", "status")
    info = json.loads(out)
    assert info["running"] is True and int(info["pid"]) == pids[0]
    # a later start finds it running and starts nothing
    code, out = wb_here(monkeypatch, capsys, state_dir, "redis", "start")
    assert code == 0 and out.strip() in urls
    assert servers_in(state_dir) == pids
