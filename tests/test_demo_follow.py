"""Other commands follow a running `wallboard demo` when nothing names a centre; a report over a period with no
data says so. The demo itself runs for real in tmux (a terminal, as a user runs it), on the test server."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from wallboard import demo_state

from .polling import wait_until

ROOT = Path(__file__).resolve().parent.parent
FOLLOWING = "using the running demo"


def cli(*args: str, env: dict, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "wallboard.cli", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
    )


def user_env(state_dir: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WALLBOARD_")}
    env["WALLBOARD_STATE_DIR"] = str(state_dir)
    return env


@pytest.mark.skipif(not shutil.which("tmux"), reason="needs tmux (the demo is a terminal UI)")
def test_board_advise_snapshot_report_and_serve_follow_the_running_demo(tmp_path):
    from wallboard.config import load_config
    from wallboard.replay import drop_namespace_sync
    from wallboard.store import connect_sync

    env = user_env(tmp_path / "state")
    prefix = f"wbdemo-t{uuid.uuid4().hex[:8]}"
    sock = f"wbt{uuid.uuid4().hex[:8]}"
    demo = (
        f"cd {ROOT} && exec env WALLBOARD_STATE_DIR={tmp_path / 'state'} REDIS_URL={env['REDIS_URL']} "
        f"{sys.executable} -m wallboard.cli demo --prefix {prefix} --seed 3"
    )
    subprocess.run(["tmux", "-L", sock, "new-session", "-d", "-s", "demo", "-x", "160", "-y", "48", demo], check=True)
    try:
        state = wait_until(demo_state_in(tmp_path / "state"), "the demo's state file", timeout=60, every=0.2)
        assert state["prefix"] == prefix and state["config"].endswith("demo.toml")
        wait_until(lambda: "This demo, elsewhere" in pane(sock), "the demo's screen", timeout=30, every=0.2)

        def snapshot_with_calls():
            out = cli("snapshot", "--json", env=env)
            return (
                json.loads(out.stdout) if out.returncode == 0 and json.loads(out.stdout)["total"]["entered"] else None
            )

        before = wait_until(snapshot_with_calls, "the demo's first calls", timeout=90, every=0.2)
        assert set(before["queues"]) == {"support", "tech", "billing", "sales", "chat", "email"}
        assert before["centre"] == "Example Bank — demo"

        out = cli("report", "--period", "day", "--format", "json", env=env)
        assert out.returncode == 0, out.stderr
        assert FOLLOWING in out.stderr and "the running demo's day so far" in out.stderr
        after = json.loads(cli("snapshot", "--json", env=env).stdout)
        rep = json.loads(out.stdout)
        assert rep["centre"] == "Example Bank — demo"
        # the report reads the same counts the snapshots do (taken before and after it)
        assert before["total"]["entered"] <= rep["total"]["entered"] <= after["total"]["entered"]

        # the TV in a terminal, in a second window: the demo's queues, live (not stale)
        board = (
            f"cd {ROOT} && exec env WALLBOARD_STATE_DIR={tmp_path / 'state'} REDIS_URL={env['REDIS_URL']} "
            f"{sys.executable} -m wallboard.cli board"
        )
        subprocess.run(["tmux", "-L", sock, "new-window", "-t", "demo", "-n", "board", board], check=True)
        # (tiles in alert come first, so which queues fit an 80x24 window depends on the demo's moment)
        tiles = ("Technical support", "Billing", "Sales")
        screen = wait_until(
            lambda: any(t in (p := pane(sock, "demo:board")) for t in tiles) and p, "the board", timeout=30, every=0.2
        )
        assert "Whole centre" in screen
        assert "Customer service floor" in screen and "no data since" not in screen.lower()
        subprocess.run(["tmux", "-L", sock, "kill-window", "-t", "demo:board"], check=True)

        out = cli("advise", "--json", env=env)
        assert out.returncode == 0 and FOLLOWING in out.stderr, out.stderr
        assert set(json.loads(out.stdout)["queues"]) == set(before["queues"])

        # serve: the kiosk URLs carry the demo's throwaway viewer tokens, and the page opens with them
        serve = subprocess.Popen(
            [sys.executable, "-m", "wallboard.cli", "serve", "--port", "0"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            lines = [serve.stdout.readline() for _ in range(4)]
            url = next(x.split(": ", 1)[1].strip() for x in lines if x.strip().startswith("floor:"))
            assert "token=TOKEN" not in url
            import urllib.request

            with urllib.request.urlopen(url, timeout=10) as page:
                assert page.status == 200
        finally:
            serve.terminate()
            serve.wait(timeout=10)

        # a centre named on the command line is not the demo
        other = cli("snapshot", "--prefix", prefix + "-other", env=env)
        assert other.returncode == 1 and FOLLOWING not in other.stderr

        subprocess.run(["tmux", "-L", sock, "send-keys", "-t", "demo:0", "q"], check=True)
        wait_until(lambda: not (tmp_path / "state" / "demo.json").exists(), "the demo to stop", timeout=30, every=0.2)
        gone = cli("snapshot", env=env)
        assert gone.returncode == 1 and FOLLOWING not in gone.stderr
    finally:
        subprocess.run(["tmux", "-L", sock, "kill-server"], capture_output=True)
        r = connect_sync(load_config(None), env["REDIS_URL"])
        drop_namespace_sync(r, prefix)
        r.close()


def demo_state_in(state: Path):
    def check():
        try:
            return json.loads((state / "demo.json").read_text())
        except (OSError, ValueError):
            return None

    return check


def pane(sock: str, target: str = "demo:0") -> str:
    out = subprocess.run(["tmux", "-L", sock, "capture-pane", "-p", "-t", target], capture_output=True, text=True)
    return out.stdout


def _write_state(monkeypatch, state: Path, pid: int, url: str, prefix: str = "wbdemo-x", services=None) -> None:
    monkeypatch.setenv("WALLBOARD_STATE_DIR", str(state))
    demo_state.write(
        demo_state.RunningDemo(
            pid=pid,
            config=str(ROOT / "wallboard/data/demo.toml"),
            prefix=prefix,
            redis_url=url,
            embedded=False,
            services=services,
        )
    )


def test_only_a_live_demo_is_followed_and_only_when_nothing_names_a_centre(tmp_path, monkeypatch, capsys):
    from wallboard.cli import build_parser, config_from_args

    url = os.environ["REDIS_URL"]
    for k in [k for k in os.environ if k.startswith("WALLBOARD_")]:
        monkeypatch.delenv(k)

    def follows(*argv: str, **env: str) -> bool:
        with monkeypatch.context() as m:
            for k, v in env.items():
                m.setenv(k, v)
            args = build_parser().parse_args(list(argv))
            cfg = config_from_args(args)
        said = FOLLOWING in capsys.readouterr().err
        assert said == (args.running_demo is not None) == (cfg.redis.prefix == "wbdemo-x"), argv
        return said

    _write_state(monkeypatch, tmp_path, os.getpid(), url)  # this test's process stands for a live demo
    assert all(follows(c) for c in ("advise", "snapshot", "board", "serve", "tui", "audit"))
    assert follows("report", "--period", "day")
    followed = cli("advise", env=user_env(tmp_path))  # the user's path, once, in a subprocess
    assert f"{FOLLOWING} (wbdemo-x, pid {os.getpid()})" in followed.stderr
    for told in (["--prefix", "mine"], ["--config", str(ROOT / "wallboard/data/demo.toml")], ["--redis", url]):
        assert not follows("advise", *told), told
    assert not follows("advise", WALLBOARD_REDIS__PREFIX="mine")
    assert not follows("advise", REDIS_URL=url.rstrip("0123456789") + "1")  # REDIS_URL names another db
    assert not follows("ingest", "--feed", "sim") and not follows("replay", "--feed", "jsonl", "x")  # writers never
    assert not follows("executor") and not follows("scheduler") and not follows("notifier")  # services never
    for service in ("ingest", "executor", "scheduler", "notifier", "serve"):  # ... but their health checks do
        assert follows(service, "--check"), service
    assert not follows("ingest", "--check", "--prefix", "mine")

    crashed = subprocess.Popen(["true"])  # a demo that died without cleaning up: its pid is gone
    crashed.wait()
    _write_state(monkeypatch, tmp_path, crashed.pid, url)
    assert demo_state.read() is None and not follows("advise")
    _write_state(monkeypatch, tmp_path, os.getpid(), url)  # a live pid, but another process's start time: reused
    data = json.loads((tmp_path / "demo.json").read_text())
    (tmp_path / "demo.json").write_text(json.dumps({**data, "proc_start": "1"}))
    assert demo_state.read() is None and not follows("advise")


def test_a_report_over_a_period_with_no_data_says_so(tmp_path, namespace):
    env = user_env(tmp_path)
    prefix = namespace  # empty, and dropped after (the report marks what it rolled up)
    out = cli(
        "report", "--period", "day", "--prefix", prefix, "--format", "csv", "-o", str(tmp_path / "r.csv"), env=env
    )
    assert out.returncode == 1 and out.stdout == ""
    assert "no data recorded in" in out.stderr and "--from" in out.stderr
    assert not (tmp_path / "r.csv").exists()


DEMO_SERVICES = ["pbx", "ingest", "ingest-http", "executor"]  # what `wallboard demo` starts (cli.cmd_demo)


def test_every_check_follows_the_running_demo_and_says_what_it_does_not_run(tmp_path, monkeypatch, namespace):
    """`ingest|executor|scheduler|notifier --check` with no flags answer for the running demo: its ingester and
    executor (real processes on the demo's namespace) are found alive; the scheduler and the notifier, which the
    demo does not run, are said to be so. With --prefix the user's own centre is checked instead."""
    from .conftest import free_port

    url = os.environ["REDIS_URL"]
    for k in [k for k in os.environ if k.startswith("WALLBOARD_")]:
        monkeypatch.delenv(k)
    _write_state(monkeypatch, tmp_path, os.getpid(), url, prefix=namespace, services=DEMO_SERVICES)
    env = user_env(tmp_path)
    config = str(ROOT / "wallboard/data/demo.toml")
    before = cli("executor", "--check", env=env)
    assert before.returncode == 1 and FOLLOWING in before.stderr
    assert f"executor: not running — no live executor marks in Redis (prefix {namespace})" in before.stdout

    base = [sys.executable, "-m", "wallboard.cli"]
    mine = ["--config", config, "--prefix", namespace]
    pbx_env = {**env, "WALLBOARD_AMI_USER": "wallboard", "WALLBOARD_AMI_SECRET": "s3cret"}
    # the executor marks itself alive before its first action opens the PBX session (none here)
    procs = [
        subprocess.Popen(
            [*base, "executor", "--host", "127.0.0.1", "--port", str(free_port()), *mine, "--log", str(tmp_path / "e")],
            cwd=ROOT,
            env=pbx_env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        ),
        subprocess.Popen(
            [*base, "ingest", "--feed", "sim", "--seed", "3", *mine, "--log", str(tmp_path / "i")],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        ),
    ]
    try:
        for kind in ("executor", "ingest"):
            out = wait_until(
                lambda kind=kind: (o := cli(kind, "--check", env=env)).returncode == 0 and o,
                f"{kind} --check to find the demo's {kind}",
                timeout=60,
                every=0.3,
            )
            assert FOLLOWING in out.stderr and f"({namespace}, pid {os.getpid()})" in out.stderr
        assert cli("executor", "--check", env=env).stdout.startswith("executor: OK — 1 alive: ")
        ingest = cli("ingest", "--check", env=env).stdout
        assert "feed sim" in ingest and "(owner)" in ingest

        for kind in ("scheduler", "notifier"):
            out = cli(kind, "--check", env=env)
            assert out.returncode == 1 and FOLLOWING in out.stderr, out.stderr
            said = (
                f"{kind}: not running — the running demo ({namespace}, pid {os.getpid()}) runs no {kind} "
                "(it runs pbx, ingest, ingest-http, executor)"
            )
            assert said in out.stdout, out.stdout
        # a centre named on the command line is checked, not the demo
        other = cli("executor", "--check", "--prefix", namespace + "-other", env=env)
        assert other.returncode == 1 and FOLLOWING not in other.stderr
        assert f"no live executor marks in Redis (prefix {namespace}-other)" in other.stdout
        mine_sched = cli("scheduler", "--check", "--prefix", namespace, env=env)
        assert mine_sched.returncode == 1 and "the running demo" not in mine_sched.stdout
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait(timeout=20)


GOOD_STATE = {"pid": 0, "config": "demo.toml", "prefix": "wbdemo-x", "redis_url": "redis://127.0.0.1:6379/0"}


@pytest.mark.parametrize(
    "change, names",
    [
        ({"pid": 99999999999999999999}, "pid"),  # os.kill raised OverflowError: "unexpected error (a bug)"
        ({"pid": -1}, "pid"),  # os.kill(-1, 0) signals every process and succeeds: any stale file was followed
        ({"pid": 0}, "pid"),  # ... and 0 the own process group
        ({"pid": 1}, "pid"),  # init: never a demo
        ({"pid": "4242"}, "pid"),
        ({"pid": True}, "pid"),
        ({"services": 5}, "services"),  # runs() raised TypeError
        ({"services": ["pbx", 5]}, "services.1"),
        ({"viewer_tokens": []}, "viewer_tokens"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_a_corrupt_demo_state_file_is_ignored_in_one_line_naming_it(tmp_path, monkeypatch, capsys, change, names):
    monkeypatch.setenv("WALLBOARD_STATE_DIR", str(tmp_path))
    path = tmp_path / "demo.json"
    path.write_text(json.dumps({**GOOD_STATE, "pid": os.getpid(), **change}))
    assert demo_state.read() is None
    [line] = capsys.readouterr().err.splitlines()
    assert line.startswith(f"wallboard: warning: ignoring the demo state file {path}: {names}: "), line


@pytest.mark.parametrize(
    "text, says", [(b"{", "is not JSON"), (b"[1]", "holds a JSON list"), (b"\xff{}", "cannot be read")]
)
def test_a_demo_state_file_that_is_no_object_is_ignored_in_one_line(tmp_path, monkeypatch, capsys, text, says):
    monkeypatch.setenv("WALLBOARD_STATE_DIR", str(tmp_path))
    (tmp_path / "demo.json").write_bytes(text)
    assert demo_state.read() is None
    [line] = capsys.readouterr().err.splitlines()
    assert f"ignoring the demo state file {tmp_path / 'demo.json'}: {says}" in line


def test_scheduler_and_ingest_checks_with_a_corrupt_demo_state_answer_for_the_default_centre(tmp_path):
    """The commands that follow the demo, with the files of the review: a warning line and the check's own
    answer (no traceback, no "unexpected error"); ``ingest --check`` names itself as the other checks do."""
    env = user_env(tmp_path)
    for change in ({"pid": 99999999999999999999}, {"services": 5}, {"pid": -1}):
        (tmp_path / "demo.json").write_text(json.dumps({**GOOD_STATE, "pid": os.getpid(), **change}))
        for kind in ("scheduler", "ingest"):
            out = cli(kind, "--check", env=env)
            assert out.returncode in (0, 1) and "Traceback" not in out.stderr and "a bug" not in out.stderr, out.stderr
            assert "warning: ignoring the demo state file" in out.stderr and FOLLOWING not in out.stderr
            assert out.stdout.startswith(f"{kind}: "), out.stdout  # the default centre's answer, whatever it is


def test_ingest_check_names_itself_and_what_the_demo_does_not_run(tmp_path, monkeypatch, namespace):
    env = user_env(tmp_path)
    empty = cli("ingest", "--check", "--prefix", namespace, env=env)
    assert (empty.returncode, empty.stdout) == (
        1,
        f"ingest: not running — no ingester alive in Redis (prefix {namespace})\n",
    )
    _write_state(monkeypatch, tmp_path, os.getpid(), os.environ["REDIS_URL"], prefix=namespace, services=["pbx"])
    followed = cli("ingest", "--check", env=user_env(tmp_path))
    assert followed.returncode == 1 and FOLLOWING in followed.stderr
    assert followed.stdout == (
        f"ingest: not running — the running demo ({namespace}, pid {os.getpid()}) runs no ingest (it runs pbx)\n"
    )
