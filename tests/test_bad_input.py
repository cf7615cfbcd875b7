"""Bad input never stops a replay: malformed lines become dead letters (reason and line number, counted,
kept in the ``{c}:deadletter`` stream), the good lines are counted as usual, unknown queues and agents are
created on the fly, and an unreachable Redis is one clear message and exit code 3."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import redis

from wallboard.feed import DeadLetter
from wallboard.keys import Keys

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "config" / "wallboard.toml"
WALLBOARD = Path(sys.executable).with_name("wallboard")
DEAD_URL = "redis://127.0.0.1:1/0"


def redis_url() -> str:
    return os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")


def ev(kind: str, n: int, hms: str, **fields) -> str:
    return json.dumps({"type": kind, "id": f"bad:{n}", "ts": f"2026-11-23T{hms}Z", "source": f"bad:{n}", **fields})


# line number -> text. Bad lines: 3 (not JSON), 5 (unknown type), 7 (no call_id), 10 (naive timestamp).
LINES = {
    1: ev("caller_joined", 1, "09:00:00", queue="support", call_id="c1", caller="0501234567"),
    2: ev("caller_answered", 2, "09:00:08", queue="support", call_id="c1", agent="1001"),
    3: '{"type": "caller_joined", "id": "bad:3", "ts": "2026-11-23T09:00:09Z"',
    4: ev("caller_joined", 4, "09:00:10", queue="support", call_id="c2"),
    5: ev("caller_teleported", 5, "09:00:20", queue="support", call_id="c2"),
    6: ev("caller_abandoned", 6, "09:00:40", queue="support", call_id="c2"),
    7: json.dumps(
        {"type": "caller_joined", "id": "bad:7", "ts": "2026-11-23T09:00:50Z", "source": "bad:7", "queue": "support"}
    ),
    8: ev("caller_joined", 8, "09:01:00", queue="mystery", call_id="m1"),
    9: ev("caller_answered", 9, "09:01:05", queue="mystery", call_id="m1", agent="9999"),
    10: json.dumps(
        {
            "type": "caller_joined",
            "id": "bad:10",
            "ts": "2026-11-23T09:01:10",
            "source": "bad:10",
            "queue": "support",
            "call_id": "c9",
        }
    ),
    11: "",
    12: "# a comment line is not input",
    13: ev("agent_state", 13, "09:01:05", agent="9999", state="on_call", queue="mystery", call_id="m1"),
    14: ev("caller_joined", 14, "09:02:00", queue="support", call_id="c3"),
    15: ev("call_completed", 15, "09:03:05", queue="mystery", call_id="m1", agent="9999", talk_s=120),
}
BAD = {3: "JSON", 5: "caller_teleported", 7: "call_id", 10: "timezone"}


@pytest.fixture
def feed_file(tmp_path) -> Path:
    path = tmp_path / "mixed.jsonl"
    path.write_text("\n".join(LINES[i] for i in sorted(LINES)) + "\n", encoding="utf-8")
    return path


def wb(*args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WALLBOARD_")}
    return subprocess.run([str(WALLBOARD), *args], env=env, cwd=ROOT, capture_output=True, text=True, timeout=120)


def test_replay_counts_good_lines_and_dead_letters_the_bad(feed_file, namespace):
    proc = wb(
        "replay",
        "--feed",
        "jsonl",
        str(feed_file),
        "--json",
        "--config",
        str(CONFIG),
        "--prefix",
        namespace,
        "--redis",
        redis_url(),
    )
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    snap = json.loads(proc.stdout)

    assert snap["dead_letters"] == len(BAD) == 4
    # last good event 09:03:05 -> now 09:03:06; centre time Asia/Jerusalem (UTC+2): window since 22:00Z
    assert snap["at"] == "2026-11-23T09:03:06Z"
    assert snap["window"] == {"kind": "since_reset", "since": "2026-11-22T22:00:00Z"}

    # support: c1 answered after 8 s; c2 abandoned after 30 s (not short, not within 20 s); c3 still waiting
    s = snap["queues"]["support"]
    assert (s["entered"], s["offered"], s["answered"], s["answered_within_sl"]) == (3, 2, 1, 1)
    assert (s["abandoned"], s["short_abandoned"], s["abandoned_within_sl"]) == (1, 0, 0)
    assert s["wait_answered_s"] == 8 and s["wait_all_s"] == 38
    assert s["service_level"] == pytest.approx(0.5)  # 1 / (1 + 1 - 0)
    assert s["asa_s"] == pytest.approx(8.0) and s["avg_wait_s"] == pytest.approx(19.0)
    assert s["abandon_rate"] == pytest.approx(0.5)
    assert s["waiting"] == 1 and s["callers"][0]["call_id"] == "c3"
    assert s["longest_wait_s"] == pytest.approx(66.0)

    # the unknown queue and agent were created on the fly, with the default queue settings
    m = snap["queues"]["mystery"]
    assert (m["entered"], m["offered"], m["answered"], m["answered_within_sl"]) == (1, 1, 1, 1)
    assert m["completed"] == 1 and m["talk_s"] == 120 and m["aht_s"] == pytest.approx(120.0)
    assert m["sl_threshold_s"] == 20 and m["sl_formula"] == "excl_short_abandons"
    assert m["service_level"] == pytest.approx(1.0)
    a = snap["agents"]["9999"]
    assert a["name"] is None and a["calls_handled"] == 1
    assert a["state"] == "on_call" and a["call_id"] == "m1" and a["call_queue"] == "mystery"
    assert snap["agents"]["1001"]["calls_handled"] == 1 and snap["agents"]["1001"]["name"] == "Gefen"
    # the configured queues are still there (untouched), in config order, the new one after them
    assert list(snap["queues"]) == ["support", "tech", "billing", "sales", "mystery"]
    assert snap["queues"]["tech"]["entered"] == 0

    t = snap["total"]
    assert (t["entered"], t["offered"], t["answered"], t["abandoned"]) == (4, 3, 2, 1)

    # the dead-letter stream holds each bad line with its reason and its position (line number)
    keys = Keys(namespace)
    assert keys.deadletter == f"{namespace}:{{c}}:deadletter"
    r = redis.Redis.from_url(redis_url(), decode_responses=True)
    try:
        entries = [fields for _, fields in r.xrange(keys.deadletter)]
        assert r.get(keys.dlcount) == "4"
        registered_q, registered_a = r.smembers(keys.queues), r.smembers(keys.agents)
    finally:
        r.close()
    assert len(entries) == len(BAD)
    for fields, (line_no, word) in zip(entries, sorted(BAD.items())):
        assert fields["source"] == f"jsonl:{feed_file}:{line_no}"
        assert word.lower() in fields["reason"].lower(), fields
        assert fields["raw"] == LINES[line_no]
    assert "mystery" in registered_q and "9999" in registered_a


def test_a_second_replay_into_the_same_namespace_counts_nothing_twice(feed_file, namespace, tmp_path):
    """A restarted reader hands the same lines over again: good ones and rejected ones count once. A line
    that differs (same position, new content: the file was rewritten) is a new record."""
    args = (
        "replay",
        "--feed",
        "jsonl",
        "--json",
        "--config",
        str(CONFIG),
        "--prefix",
        namespace,
        "--redis",
        redis_url(),
    )
    first = json.loads(wb(*args, str(feed_file)).stdout)
    again = json.loads(wb(*args, str(feed_file)).stdout)
    assert again["dead_letters"] == first["dead_letters"] == len(BAD)
    assert again["queues"]["support"]["entered"] == first["queues"]["support"]["entered"] == 3
    r = redis.Redis.from_url(redis_url(), decode_responses=True)
    try:
        assert r.xlen(Keys(namespace).deadletter) == len(BAD)
        lines = dict(LINES)
        line_no = min(BAD)
        lines[line_no] = lines[line_no] + " (edited)"
        feed_file.write_text("\n".join(lines[i] for i in sorted(lines)) + "\n", encoding="utf-8")
        third = json.loads(wb(*args, str(feed_file)).stdout)
        assert third["dead_letters"] == len(BAD) + 1
        assert r.xlen(Keys(namespace).deadletter) == len(BAD) + 1
    finally:
        r.close()


@pytest.mark.parametrize(
    "args",
    [
        ("replay", "--feed", "jsonl", "{feed}", "--json", "--redis", DEAD_URL),
        ("replay", "--feed", "jsonl", "{feed}", "--prefix", "wbtest-never", "--redis", DEAD_URL),
        ("snapshot", "--json", "--redis", DEAD_URL),
    ],
    ids=["replay-json", "replay-table", "snapshot"],
)
def test_unreachable_redis_is_one_clear_message_and_exit_3(feed_file, args):
    proc = wb(*(a.replace("{feed}", str(feed_file)) for a in args))
    assert proc.returncode == 3, (proc.returncode, proc.stderr)
    assert proc.stdout == ""
    err = proc.stderr.strip()
    assert "Traceback" not in err
    assert len(err.splitlines()) == 1, err
    assert DEAD_URL in err
    assert "cannot reach Redis" in err


def test_values_past_the_event_models_limits_are_dead_letters(tmp_path):
    """A duration of 1e308 s (two of them sum to inf, which Redis refuses halfway through a batch) or a penalty
    past a C int is rejected with the field named, before it reaches the engine."""
    from feeds.jsonl import JsonlFeed
    from wallboard.config import load_config

    lines = [
        ev("call_completed", 1, "09:03:05", queue="support", call_id="c1", agent="1001", talk_s=1e308),
        ev("member_added", 2, "09:03:06", agent="1001", queue="support", penalty=2**31),
        ev("caller_joined", 3, "09:03:07", queue="support", call_id="c2", position=10**12),
        ev("call_completed", 4, "09:03:08", queue="support", call_id="c1", agent="1001", talk_s=9e9),
    ]
    path = tmp_path / "big.jsonl"
    path.write_text("\n".join(lines) + "\n")
    items = list(JsonlFeed(str(path), load_config(None)).read())
    dead = [i for i in items if isinstance(i, DeadLetter)]
    assert [d.reason.split(":")[0] for d in dead] == [
        "call_completed.talk_s",
        "member_added.penalty",
        "caller_joined.position",
    ]
    assert [i.talk_s for i in items if not isinstance(i, DeadLetter)] == [9e9]
