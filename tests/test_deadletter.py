"""``wallboard deadletter``: the listing, and ``--redrive`` end to end through the CLI on a real Redis.

The engine takes events for a queue the config does not name (it creates the queue on the fly, see
test_bad_input), so "the config gained the missing queue" makes no dead letter to re-drive. The realistic fix
here is the calls-csv mapping: a site's records say ``voicemail`` where the mapping knows only answered /
abandoned / overflow, so those rows are dead letters until the mapping learns the word. A queue_log "code fix"
is played by tightening a parser limit while replaying and loosening it again before the re-drive.
"""

from __future__ import annotations

import getpass
import json
import os
from pathlib import Path

import pytest
import redis

import feeds.queue_log as queue_log_mod
from wallboard.cli import main
from wallboard.keys import Keys

ROOT = Path(__file__).resolve().parent.parent
CONFIG = str(ROOT / "config" / "wallboard.toml")

MAPPING = """
profile = "generic"
delimiter = ","
header = true
time_format = "%Y-%m-%d %H:%M:%S"
[columns]
call_id = "call_id"
queue = "queue"
joined_at = "joined_at"
wait_s = "wait_s"
outcome = "outcome"
talk_s = "talk_s"
agent = "agent"
[outcomes]
answered = "answered"
abandoned = "abandoned"
overflow = "overflowed"
"""
CALLS = """call_id,queue,joined_at,wait_s,outcome,talk_s,agent
c1,support,2026-11-23 09:00:00,12,answered,180,1001
c2,support,2026-11-23 09:01:00,40,abandoned,,
c3,support,2026-11-23 09:02:00,300,voicemail,,
c4,sales,2026-11-23 09:03:00,250,voicemail,,
c5,support,yesterday,10,answered,60,1001
c6,sales,2026-11-23 09:05:00,5,answered,90,1024
"""


def redis_url() -> str:
    return os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")


@pytest.fixture
def r():
    client = redis.Redis.from_url(redis_url(), decode_responses=True)
    yield client
    client.close()


def wb(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return code, out, err


def counters(r, ns: str, queue: str) -> dict[str, float]:
    return {k: float(v) for k, v in r.hgetall(f"{Keys(ns).queue(queue)}:w:all").items()}


def listing(capsys, ns: str, *extra: str) -> dict:
    code, out, _ = wb(
        capsys, "deadletter", "--json", "--config", CONFIG, "--prefix", ns, "--redis", redis_url(), *extra
    )
    assert code == 0
    return json.loads(out)


def test_a_fixed_mapping_redrives_the_rows_it_rejected_once(tmp_path, namespace, r, capsys):
    mapping, calls = tmp_path / "site.toml", tmp_path / "calls.csv"
    mapping.write_text(MAPPING, encoding="utf-8")
    calls.write_text(CALLS, encoding="utf-8")
    common = ("--config", CONFIG, "--prefix", namespace, "--redis", redis_url())
    code, _, _ = wb(
        capsys,
        "replay",
        "--feed",
        "calls-csv",
        str(calls),
        "--mapping",
        str(mapping),
        "--window",
        "all",
        "--json",
        *common,
    )
    assert code == 0
    before = {q: counters(r, namespace, q) for q in ("support", "sales")}
    assert before["support"]["entered"] == 2 and before["support"].get("overflowed", 0) == 0
    assert before["sales"]["entered"] == 1

    listed = listing(capsys, namespace)
    assert listed["total"] == 3
    by_line = {e["source"].rsplit(":", 1)[1]: e for e in listed["entries"]}
    assert sorted(by_line) == ["4", "5", "6"]
    assert "unknown outcome 'voicemail'" in by_line["4"]["reason"]
    assert "'yesterday' is not a time" in by_line["6"]["reason"]
    assert by_line["5"]["raw"] == "c4,sales,2026-11-23 09:03:00,250,voicemail,,"

    # the dry run changes nothing; with the old mapping nothing re-drives either
    code, out, _ = wb(
        capsys, "deadletter", "--redrive", "--dry-run", "--mapping", str(mapping), "--window", "all", *common
    )
    assert code == 0 and out.startswith("dry run: would have re-driven 0, still rejected 3")
    assert r.xlen(Keys(namespace).deadletter) == 3

    # the fix: the site's word for an overflow to voicemail
    mapping.write_text(MAPPING + 'voicemail = "overflowed"\n', encoding="utf-8")
    code, out, err = wb(capsys, "deadletter", "--redrive", "--mapping", str(mapping), "--window", "all", *common)
    assert code == 0, err
    assert out.splitlines()[0] == "re-driven 2, still rejected 1"
    after = {q: counters(r, namespace, q) for q in ("support", "sales")}
    assert after["support"]["entered"] == 3 and after["support"]["overflowed"] == 1
    assert after["sales"]["entered"] == 2 and after["sales"]["overflowed"] == 1
    assert after["support"]["wait_all_s"] == before["support"]["wait_all_s"] + 300
    listed = listing(capsys, namespace)
    assert listed["total"] == 1 and [e["source"].rsplit(":", 1)[1] for e in listed["entries"]] == ["6"]

    # again: nothing more to do, nothing counted twice
    code, out, _ = wb(capsys, "deadletter", "--redrive", "--mapping", str(mapping), "--window", "all", *common)
    assert out.splitlines()[0] == "re-driven 0, still rejected 1"
    assert {q: counters(r, namespace, q) for q in ("support", "sales")} == after

    # a re-drive stopped between applying and removing leaves the record behind: it re-drives, counted once
    r.xadd(
        Keys(namespace).deadletter,
        {
            "source": f"calls-csv:{calls}:4",
            "reason": "(left behind)",
            "raw": "c3,support,2026-11-23 09:02:00,300,voicemail,,",
        },
    )
    r.incr(Keys(namespace).dlcount)
    code, out, _ = wb(
        capsys, "deadletter", "--redrive", "--feed", "calls-csv", "--mapping", str(mapping), "--window", "all", *common
    )
    assert out.splitlines()[0] == "re-driven 1, still rejected 1"
    assert {q: counters(r, namespace, q) for q in ("support", "sales")} == after
    assert listing(capsys, namespace)["total"] == 1

    # each re-drive is on the audit trail, with who ran it
    trail = [f for _, f in r.xrange(f"{Keys(namespace).centre}:audit")]
    assert [f["type"] for f in trail] == ["deadletter.redrive"] * 3
    assert {f["user"] for f in trail} == {getpass.getuser()}
    assert trail[0]["detail"].startswith("dead letters re-driven 2, still rejected 1")
    code, out, _ = wb(capsys, "audit", *common)
    assert "dead letters re-driven 2, still rejected 1" in out


def test_queue_log_redrive_after_a_code_fix_and_what_cannot_redrive(tmp_path, namespace, r, capsys, monkeypatch):
    t0 = 1795327200
    log = tmp_path / "queue_log"
    log.write_text(
        "\n".join(
            [
                f"{t0}|c1|support|PJSIP/1001|ENTERQUEUE||0501234567|1",
                f"{t0 + 5}|c1|support|PJSIP/1001|CONNECT|5|c1.1|2",
                f"{t0 + 5005}|c1|support|PJSIP/1001|COMPLETECALLER|5|5000|1",  # a long call, over the strict limit
                f"{t0 + 6000}|c2|unconfigured|NONE|ENTERQUEUE||0509999999|1",  # a queue not in the config: counted
                f"{t0 + 6001}|c2|unconfigured|NONE|ABANDON|1|1|soon",  # stays a dead letter
            ]
        )
        + "\n",
        encoding="utf-8",
    )
    capture = tmp_path / "capture.txt"
    capture.write_bytes(b"Event: QueueCallerJoin\r\nQueue: support\r\nno colon here\r\n\r\n")
    common = ("--config", CONFIG, "--prefix", namespace, "--redis", redis_url())

    monkeypatch.setattr(queue_log_mod, "_MAX_SECONDS", 1000.0)  # the bug: a limit too strict for real calls
    assert wb(capsys, "replay", "--feed", "queue-log", str(log), "--window", "all", *common)[0] == 0
    assert wb(capsys, "replay", "--feed", "ami-capture", str(capture), "--window", "all", *common)[0] == 0
    assert counters(r, namespace, "unconfigured")["entered"] == 1  # why the queue is no re-drive scenario
    assert counters(r, namespace, "support").get("completed", 0) == 0
    listed = listing(capsys, namespace)
    reasons = {
        e["source"].split(":", 1)[0] + ":" + e["source"].rsplit(":", 1)[1]: e["reason"] for e in listed["entries"]
    }
    assert set(reasons) == {"queue-log:3", "queue-log:5", "ami-capture:1"}
    assert "talktime (data2) is too large" in reasons["queue-log:3"]

    monkeypatch.setattr(queue_log_mod, "_MAX_SECONDS", 1e10)  # the fix
    code, out, _ = wb(capsys, "deadletter", "--redrive", "--window", "all", *common)
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == "re-driven 1, still rejected 2"
    assert "1 of them from the ami-capture feed" in lines[-1]
    support = counters(r, namespace, "support")
    assert support["completed"] == 1 and support["talk_s"] == 5000 and support["entered"] == 1
    # the inferred wrap-up of the re-driven row came too (support's wrapup_s is 15)
    assert support["wrap_s"] == 15
    left = listing(capsys, namespace)
    assert left["total"] == 2
    assert {e["source"].split(":", 1)[0] for e in left["entries"]} == {"queue-log", "ami-capture"}
    stale = [e for e in left["entries"] if e["source"].startswith("queue-log")][0]
    assert stale["reason"] == reasons["queue-log:5"]  # same reason: left where it was

    # --feed limits a re-drive to one feed; the listing options are refused with it
    code, out, _ = wb(capsys, "deadletter", "--redrive", "--feed", "queue-log", "--window", "all", *common)
    assert out.splitlines() == ["re-driven 0, still rejected 1"]
    code, _, err = wb(capsys, "deadletter", "--feed", "queue-log", *common)
    assert code == 2 and "--redrive" in err


def test_the_listing_is_unchanged(tmp_path, namespace, r, capsys):
    keys = Keys(namespace)
    for n in range(3):
        r.xadd(keys.deadletter, {"source": f"jsonl:/x:{n}", "reason": f"bad {n}", "raw": f"line {n}"})
    r.set(keys.dlcount, 3)
    got = listing(capsys, namespace, "--last", "2")
    assert got["total"] == 3 and [e["source"] for e in got["entries"]] == ["jsonl:/x:2", "jsonl:/x:1"]
    assert set(got["entries"][0]) == {"id", "source", "reason", "raw"}
    common = ("--config", CONFIG, "--prefix", namespace, "--redis", redis_url())
    code, out, _ = wb(capsys, "deadletter", "--last", "5", *common)
    assert code == 0 and out.splitlines()[0] == "3 rejected input record(s); the last 3:"
    assert "    reason: bad 0" in out and "    input:  line 2" in out
    # a feed without parse_record (jsonl) is left alone by a re-drive
    code, out, _ = wb(capsys, "deadletter", "--redrive", *common)
    assert out.splitlines()[0] == "re-driven 0, still rejected 3" and r.xlen(keys.deadletter) == 3
