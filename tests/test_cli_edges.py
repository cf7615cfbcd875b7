"""Commands at their edges: no traceback ever reaches a user. Input a command cannot use (a file that is not
there, a directory, a non-UTF-8 or absurdly nested config, a calls-csv that does not fit its mapping, a token
lifetime that is no lifetime, a malformed Redis URL) is one line saying what, where and what to do, and exit
status 2; a bug of ours is one line saying where its traceback went. ``check-config`` names NaN/infinite
thresholds, unknown permissions, roles limited to queues that do not exist and malformed Redis URLs by their
field path. A replay lists the records it rejected itself (its throwaway namespace is gone afterwards).

The real ``wallboard`` command runs in subprocesses, as a user runs it, against a real Redis."""

from __future__ import annotations

import csv
import json
import os
import shlex
import subprocess
import sys
import typing
from pathlib import Path

import pytest
import redis

from .conftest import redis_url, shared_data
from wallboard.config import ConfigError, load_config
from wallboard.keys import Keys

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "config" / "wallboard.toml"
WALLBOARD = Path(sys.executable).with_name("wallboard")
BAD_URL = "redis://:hunter2@[::1/0"  # an IPv6 host never closed: urlsplit raises, redis-py would too
SECRET = "an-edge-test-signing-secret-0123456789"


def wb(*args: str, cwd: Path = ROOT, env: dict | None = None, url: str | None = "env") -> subprocess.CompletedProcess:
    """The real command, with REDIS_URL pointing at the test server (``url="env"``) or unset (None)."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("WALLBOARD_") and k != "REDIS_URL"}
    base["WALLBOARD_STATE_DIR"] = os.environ["WALLBOARD_STATE_DIR"]  # (the autouse fixture's)
    if url == "env":
        base["REDIS_URL"] = redis_url()
    base.update(env or {})
    return subprocess.run([str(WALLBOARD), *args], env=base, cwd=cwd, capture_output=True, text=True, timeout=120)


def one_line(proc: subprocess.CompletedProcess, *words: str, status: int = 2) -> str:
    """The command failed with ``status``, printing exactly one line (stderr, nothing on stdout), naming
    each of ``words``, and no traceback."""
    out = proc.stdout + proc.stderr
    assert "Traceback" not in out, out
    assert proc.returncode == status, (proc.returncode, out)
    assert proc.stdout == "", proc.stdout
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    for w in words:
        assert w in lines[0], (w, lines[0])
    return lines[0]


@pytest.fixture(autouse=True)
def _state_dir(tmp_path, monkeypatch):
    # last-error.log goes to the state directory: keep it in the test's folder
    monkeypatch.setenv("WALLBOARD_STATE_DIR", str(tmp_path / "state"))


# ---- 10: replay of a missing file or a directory ------------------------------------------------------


def test_the_readme_bank_example_run_from_another_folder_is_one_line(tmp_path):
    """README: `wallboard replay --feed calls-csv --mapping bank ../shared/data/anonymous_bank/03_March.txt
    --window all`, run from a folder where that relative path leads nowhere."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    rel = "../shared/data/anonymous_bank/03_March.txt"
    proc = wb(
        "replay",
        "--feed",
        "calls-csv",
        "--mapping",
        "bank",
        rel,
        "--window",
        "all",
        cwd=elsewhere,
        env={"WALLBOARD_STATE_DIR": str(tmp_path / "state")},
    )
    line = one_line(proc, rel, "does not exist", str(elsewhere))
    assert line.startswith("wallboard replay:")


@pytest.mark.parametrize("feed", ["calls-csv", "jsonl", "queue-log"])
def test_replay_of_a_directory_or_a_missing_file_is_one_line(tmp_path, feed):
    one_line(wb("replay", "--feed", feed, str(tmp_path)), str(tmp_path), "is a directory")
    one_line(wb("replay", "--feed", feed, str(tmp_path / "nowhere.txt")), "nowhere.txt", "does not exist")


def test_replay_with_a_config_that_is_a_directory_is_one_line(tmp_path):
    f = tmp_path / "x.jsonl"
    f.write_text("", encoding="utf-8")
    one_line(wb("replay", "--feed", "jsonl", str(f), "--config", str(tmp_path)), str(tmp_path), "is a directory")


# ---- 10: check-config of what is no config file ---------------------------------------------------------


def _deep_array(tmp: Path) -> Path:
    p = tmp / "deep-array.toml"
    p.write_text("a = " + "[" * 5000 + "]" * 5000 + "\n", encoding="utf-8")
    return p


def _deep_inline(tmp: Path) -> Path:
    p = tmp / "deep-inline.toml"
    p.write_text("[centre]\nx = " + "{a = " * 300 + "1" + "}" * 300 + "\n", encoding="utf-8")
    return p


def _deep_headers(tmp: Path) -> Path:
    p = tmp / "deep-headers.toml"
    p.write_text("\n".join("[" + ".".join(["t"] * i) + "]" for i in range(1, 400)) + "\n", encoding="utf-8")
    return p


def _not_utf8(tmp: Path) -> Path:
    p = tmp / "latin1.toml"
    p.write_bytes('[centre]\nname = "Caf\xe9 centre"\n'.encode("latin-1"))
    return p


@pytest.mark.parametrize(
    "make, words",
    [
        (lambda tmp: tmp, ("is a directory",)),
        (_not_utf8, ("not UTF-8", "line 2", "hint")),
        (_deep_array, ("nested too deeply", "hint")),
        (_deep_inline, ("nested", "hint")),
        (_deep_headers, ("nested", "hint")),
    ],
    ids=["directory", "not-utf8", "deep-arrays", "deep-inline-tables", "deep-table-headers"],
)
def test_check_config_of_what_is_no_config_file_is_one_line(tmp_path, make, words):
    path = make(tmp_path)
    proc = wb("check-config", str(path), url=None)
    out = proc.stdout + proc.stderr
    assert "Traceback" not in out and proc.returncode == 2, (proc.returncode, out)
    lines = out.strip().splitlines()
    assert len(lines) == 1, out
    assert str(path) in lines[0]
    for w in words:
        assert w in lines[0], lines[0]
    # the same file given to any other command is the same one line, on stderr
    one_line(wb("snapshot", "--config", str(path)), str(path), *words)


# ---- 10: a calls-csv that does not fit its mapping --------------------------------------------------------

GENERIC_ROW = "c1,support,2026-11-23 09:00:00,12,answered,180,1001\n"


@pytest.mark.parametrize(
    "text, mapping, words",
    [
        ("id,queue_name,when\n" + GENERIC_ROW, "generic", ("'call_id'", "'joined_at'", "'wait_s'", "header")),
        (GENERIC_ROW, "generic", ("'call_id'", "no header line", "reads as data", "header = false")),
        ("a,b,c\n1,2,3\n", "bank", ("'vru+line'", "'q_time'", "TAB", "comma")),
        ("", "generic", ("is empty", "no header")),
        ("\n\n", "bank", ("is empty",)),
    ],
    ids=["header-without-mapped-columns", "no-header", "wrong-delimiter", "empty", "blank-lines"],
)
def test_a_calls_csv_that_does_not_fit_its_mapping_is_one_line(tmp_path, text, mapping, words):
    f = tmp_path / "calls.csv"
    f.write_text(text, encoding="utf-8")
    line = one_line(wb("replay", "--feed", "calls-csv", "--mapping", mapping, str(f)), str(f), *words)
    assert f"mapping {mapping!r}" in line


# ---- 10: wallboard token --ttl-h ---------------------------------------------------------------------------


@pytest.mark.parametrize("ttl", ["inf", "nan", "-1", "1e300", "0", "-inf", "8761"])
def test_token_ttl_that_is_no_lifetime_is_one_line(ttl):
    proc = wb(
        "token",
        "--user",
        "rivka",
        "--config",
        str(CONFIG),
        f"--ttl-h={ttl}",  # (-inf reads as a flag)
        env={"WALLBOARD_TOKEN_SECRET": SECRET},
        url=None,
    )
    one_line(proc, "--ttl-h", "more than 0", "8760")


def test_token_with_a_good_ttl_still_issues_one():
    proc = wb(
        "token",
        "--user",
        "rivka",
        "--config",
        str(CONFIG),
        "--ttl-h",
        "1.5",
        env={"WALLBOARD_TOKEN_SECRET": SECRET},
        url=None,
    )
    assert proc.returncode == 0, proc.stderr
    user, exp, _sig = proc.stdout.strip().split(".")
    assert user == "rivka" and exp.isdigit()
    # a user the config does not know is one line naming the users there are (the executor would refuse the
    # token's every request)
    bad = wb("token", "--user", "a.b", "--config", str(CONFIG), env={"WALLBOARD_TOKEN_SECRET": SECRET}, url=None)
    one_line(bad, "'a.b' is no user of the config", "rivka")


# ---- 10 and 11: a malformed Redis URL ---------------------------------------------------------------------


def test_a_malformed_redis_url_in_the_config_is_one_line_naming_the_field(tmp_path):
    cfg = tmp_path / "url.toml"
    cfg.write_text(f'[redis]\nurl = "{BAD_URL.replace(":hunter2", "")}"\n', encoding="utf-8")
    line = one_line(
        wb("snapshot", "--config", str(cfg), url=None), str(cfg), "redis.url", "not a valid URL", "redis://"
    )
    assert "hint" in line
    # check-config names it too, even while REDIS_URL (which would win) is set and fine
    proc = wb("check-config", str(cfg))
    assert proc.returncode == 2 and "Traceback" not in proc.stdout + proc.stderr
    assert "redis.url:" in proc.stdout and "not a valid URL" in proc.stdout


@pytest.mark.parametrize("command", [("snapshot",), ("replay", "--feed", "jsonl", "{file}"), ("audit",)])
def test_a_malformed_redis_url_in_the_environment_is_one_line_naming_the_variable(tmp_path, command):
    f = tmp_path / "x.jsonl"
    f.write_text("", encoding="utf-8")
    args = [a.replace("{file}", str(f)) for a in command]
    proc = wb(*args, env={"REDIS_URL": BAD_URL}, url=None)
    line = one_line(proc, "REDIS_URL", "not a valid URL", ":***@")
    assert "hunter2" not in line  # the password is never echoed


@pytest.mark.parametrize(
    "url, words",
    [
        (BAD_URL, ("not a valid URL", ":***@")),
        ("redis://127.0.0.1:99999/0", ("Port out of range",)),
        ("http://127.0.0.1:6379/0", ("scheme 'http'",)),
        ("redis://127.0.0.1:6379/zero", ("database number",)),
        ("unix://", ("no socket file",)),
    ],
)
def test_a_malformed_redis_flag_is_one_line_naming_the_flag(url, words):
    proc = wb("snapshot", "--redis", url, env={"REDIS_URL": BAD_URL}, url=None)  # the flag beats REDIS_URL
    line = one_line(proc, "--redis", *words)
    assert "hunter2" not in line


def test_a_good_redis_flag_beats_a_malformed_redis_url(namespace):
    proc = wb("snapshot", "--prefix", namespace, "--redis", redis_url(), env={"REDIS_URL": BAD_URL}, url=None)
    one_line(proc, "no snapshot published yet", status=1)  # it reached Redis: nothing published there


def test_resolve_url_names_the_source_of_a_malformed_url(monkeypatch):
    from wallboard.config import WallboardConfig
    from wallboard.errors import InputError
    from wallboard.store import redact_url, resolve_url

    monkeypatch.delenv("REDIS_URL", raising=False)
    with pytest.raises(InputError, match="--redis: .*not a valid URL"):
        resolve_url(WallboardConfig(), BAD_URL)
    assert redact_url(BAD_URL) == "redis://:***@[::1/0"


# ---- 11: check-config names what its fields may not be -----------------------------------------------------

NAMED = """\
[[queues]]
name = "support"

[queues.thresholds.service_level]
warn = nan
breach = 0.70
direction = "below"

[queues.thresholds.longest_wait_s]
warn = 60
breach = inf

[roles.lead]
permissions = ["listen", "teleport"]
queues = ["support", "nowhere"]

[redis]
url = "redis://[::1/0"
"""
NAMED_PROBLEMS = {
    "queues.0.thresholds.service_level.warn": "nan",
    "queues.0.thresholds.longest_wait_s.breach": "inf",
    "roles.lead.permissions": "'teleport'",
    "roles.lead.queues": "'nowhere'",
    "redis.url": "not a valid URL",
}


def test_check_config_names_each_problem_with_its_field_path(tmp_path, monkeypatch):
    cfg = tmp_path / "named.toml"
    cfg.write_text(NAMED, encoding="utf-8")
    proc = wb("check-config", str(cfg), url=None)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 2 and "Traceback" not in out, out
    assert f"{len(NAMED_PROBLEMS)} problem(s)" in out
    lines = out.splitlines()
    for path, word in NAMED_PROBLEMS.items():
        hits = [i for i, line in enumerate(lines) if line.strip().startswith(f"{path}:")]
        assert len(hits) == 1, f"{path} not named exactly once:\n{out}"
        assert word in lines[hits[0]], lines[hits[0]]
        assert lines[hits[0] + 1].strip().startswith("hint:"), f"no hint under {path}"
    monkeypatch.delenv("REDIS_URL", raising=False)
    for k in [k for k in os.environ if k.startswith("WALLBOARD_")]:
        monkeypatch.delenv(k)
    with pytest.raises(ConfigError) as ei:
        load_config(cfg)
    assert {p for p, _, _ in ei.value.problems} == set(NAMED_PROBLEMS)


def test_every_float_setting_refuses_nan_and_inf(monkeypatch):
    monkeypatch.delenv("REDIS_URL", raising=False)
    monkeypatch.setenv("WALLBOARD_SECURITY__TOKEN_TTL_H", "inf")
    monkeypatch.setenv("WALLBOARD_CENTRE__ENTRY_EXPIRY_H", "nan")
    with pytest.raises(ConfigError) as ei:
        load_config(None)
    assert {p for p, _, _ in ei.value.problems} == {"security.token_ttl_h", "centre.entry_expiry_h"}


def test_a_role_queue_is_checked_only_when_queues_are_configured(tmp_path, monkeypatch):
    """Without [[queues]] every queue is created on the fly (as agents' skills are checked): nothing to name."""
    monkeypatch.delenv("REDIS_URL", raising=False)
    cfg = tmp_path / "noq.toml"
    cfg.write_text('[roles.lead]\npermissions = ["ack"]\nqueues = ["anything"]\n', encoding="utf-8")
    assert load_config(cfg).roles["lead"].queues == ["anything"]


def test_the_permissions_a_role_may_grant_are_the_request_types():
    from wallboard.actions.model import Request
    from wallboard.config import PERMISSIONS

    union = typing.get_args(Request)[0]
    types = set()
    for model in typing.get_args(union):
        types.update(typing.get_args(model.model_fields["type"].annotation))
    assert set(PERMISSIONS) == types
    # and the example config grants only those
    assert {p for r in load_config(CONFIG).roles.values() for p in r.permissions} <= set(PERMISSIONS)


# ---- 10: a bug of ours is one line and a log, never a traceback on the terminal ----------------------------


def test_an_unexpected_error_is_one_line_with_where_its_traceback_is(tmp_path, monkeypatch, capsys):
    import wallboard.cli as cli

    def broken(args):
        raise RuntimeError("a bug\nsecond line of it, redis://u:hunter2@h:1/0")

    monkeypatch.setattr(cli, "cmd_check_config", broken)
    state = tmp_path / "state"
    monkeypatch.setenv("WALLBOARD_STATE_DIR", str(state))
    monkeypatch.delenv("WALLBOARD_DEBUG", raising=False)
    assert cli.main(["check-config", "x.toml"]) == 1
    out, err = capsys.readouterr()
    assert out == "" and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1, err
    assert "RuntimeError: a bug" in err and "WALLBOARD_DEBUG=1" in err
    log = state / "last-error.log"
    assert str(log) in err
    text = log.read_text()
    assert "Traceback" in text and "broken" in text and "hunter2" not in text
    assert (log.stat().st_mode & 0o777) == 0o600

    monkeypatch.setenv("WALLBOARD_DEBUG", "1")
    with pytest.raises(RuntimeError, match="a bug"):
        cli.main(["check-config", "x.toml"])


def test_an_os_error_about_a_given_path_is_one_line_exit_2(monkeypatch, capsys):
    import wallboard.cli as cli

    def vanished(args):  # e.g. the file went away between the check and the read
        raise FileNotFoundError(2, "No such file or directory", "/data/gone.csv")

    monkeypatch.setattr(cli, "cmd_check_config", vanished)
    monkeypatch.delenv("WALLBOARD_DEBUG", raising=False)
    assert cli.main(["check-config", "x.toml"]) == 2
    out, err = capsys.readouterr()
    assert out == "" and len(err.strip().splitlines()) == 1 and "/data/gone.csv" in err


# ---- 12: a replay shows the records it rejected ------------------------------------------------------------


def _mixed_jsonl(path: Path, good: int, bad: int) -> list[int]:
    """``good`` joins and ``bad`` broken lines (a caller's number in each); returns the bad line numbers."""
    lines, bad_lines = [], []
    for i in range(max(good, bad)):
        if i < good:
            lines.append(
                json.dumps(
                    {
                        "type": "caller_joined",
                        "id": f"e:{i}",
                        "ts": f"2026-11-23T09:{i // 60:02d}:{i % 60:02d}Z",
                        "source": "t",
                        "queue": "support",
                        "call_id": f"c{i}",
                    }
                )
            )
        if i < bad:
            lines.append('{"type": "caller_joined", "caller": "0509876543", "queue": ')
            bad_lines.append(len(lines))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return bad_lines


def _listed(stderr: str) -> list[tuple[str, str]]:
    """(position, reason) of each rejected record the replay listed."""
    out = []
    for line in stderr.splitlines():
        if line.startswith("  ") and not line.startswith("      input:"):
            pos, _, reason = line.strip().partition(": ")
            out.append((pos, reason))
    return out


def test_a_throwaway_replay_lists_its_rejected_records_itself(tmp_path):
    f = tmp_path / "mixed.jsonl"
    bad = _mixed_jsonl(f, good=30, bad=25)
    proc = wb("replay", "--feed", "jsonl", str(f), "--config", str(CONFIG))
    assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr
    assert "see `wallboard deadletter`" not in proc.stdout + proc.stderr  # it would find nothing
    assert "25 input record(s) rejected; the first 20" in proc.stderr
    listed = _listed(proc.stderr)
    assert [p for p, _ in listed] == [f"jsonl:{f}:{n}" for n in bad[:20]]
    assert all("JSON" in reason for _, reason in listed)
    assert proc.stderr.count("      input: ") == 20
    assert "0509876543" not in proc.stderr and "***6543" in proc.stderr  # masked, as the listing masks
    assert "--prefix NAME" in proc.stderr  # how to keep them all


def test_a_json_replay_keeps_stdout_valid_and_lists_the_rejects_on_stderr(tmp_path):
    f = tmp_path / "mixed.jsonl"
    bad = _mixed_jsonl(f, good=5, bad=3)
    proc = wb("replay", "--feed", "jsonl", str(f), "--json", "--config", str(CONFIG))
    assert proc.returncode == 0, proc.stderr
    snap = json.loads(proc.stdout)  # the snapshot alone: its schema is unchanged
    assert snap["dead_letters"] == 3 and "rejected" not in snap
    assert "3 input record(s) rejected" in proc.stderr
    assert [p for p, _ in _listed(proc.stderr)] == [f"jsonl:{f}:{n}" for n in bad]


def test_a_kept_replay_prints_the_exact_command_that_lists_its_rejects(tmp_path, namespace):
    f = tmp_path / "mixed.jsonl"
    _mixed_jsonl(f, good=5, bad=22)
    proc = wb(
        "replay", "--feed", "jsonl", str(f), "--config", str(CONFIG), "--prefix", namespace, "--redis", redis_url()
    )
    assert proc.returncode == 0, proc.stderr
    tail = proc.stderr.strip().splitlines()[-1]
    assert namespace in tail and "wallboard deadletter" in tail
    cmd = shlex.split(tail.split(": ", 1)[1])
    assert cmd[:2] == ["wallboard", "deadletter"]
    listing = wb(*cmd[1:], "--json")
    assert listing.returncode == 0, listing.stderr
    got = json.loads(listing.stdout)
    assert got["total"] == 22 and len(got["entries"]) == 22
    r = redis.Redis.from_url(redis_url(), decode_responses=True)
    try:
        assert r.xlen(Keys(namespace).deadletter) == 22
    finally:
        r.close()


def test_the_march_bank_replay_lists_its_17_rejects_with_their_lines():
    """The README's bank example: 17 rows of March 1999 are rejected (AGENT with neither queue nor service
    times). Found here independently from the raw file, and each must be listed with its line."""
    march = shared_data() / "anonymous_bank" / "03_March.txt"
    expected = []
    with open(march, encoding="utf-8", newline="") as fh:
        rows = csv.reader(fh, delimiter="\t")
        head = next(rows)
        col = {n: i for i, n in enumerate(head)}
        for line_no, row in enumerate(rows, start=2):
            if len(row) != len(head) or row[col["outcome"]] != "AGENT":
                continue
            zero = all(row[col[c]] == "0:00:00" for c in ("q_start", "q_exit", "ser_start", "ser_exit"))
            if zero and row[col["q_time"]] == "0" and row[col["ser_time"]] == "0":
                expected.append(line_no)
    assert len(expected) == 17
    proc = wb("replay", "--feed", "calls-csv", "--mapping", "bank", str(march), "--window", "all", "--json")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert json.loads(proc.stdout)["dead_letters"] == 17
    assert "17 input record(s) rejected" in proc.stderr and "the first" not in proc.stderr
    listed = _listed(proc.stderr)
    assert [p for p, _ in listed] == [f"calls-csv:{march}:{n}" for n in expected]
    assert all("neither queue nor service times" in reason for _, reason in listed)
