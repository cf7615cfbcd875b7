"""What a second hostile review of the input edges found, each a regression test: a name that only the later
settlement of a call would have carried (DestChannel), names that look like others or read reversed, and
rejected input that would have driven the operator's terminal."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from feeds.ami_capture import AmiCaptureFeed
from wallboard.config import load_config
from wallboard.events import CallerAbandoned, CallerJoined, name_problem
from wallboard.feed import DeadLetter

ROOT = Path(__file__).resolve().parent.parent
CONFIG = load_config(ROOT / "config" / "wallboard.toml")


def test_an_answering_device_that_is_no_name_is_a_dead_letter_and_the_capture_goes_on(tmp_path):
    """It used to be kept as the answering agent and crash the mapper when the call was settled later."""
    cap = tmp_path / "cap.txt"
    cap.write_text(
        "Event: QueueCallerJoin\nQueue: support\nUniqueid: 1764000000.1\nPosition: 1\nTimestamp: 1764000000.0\n\n"
        "Event: DialEnd\nUniqueid: 1764000000.1\nChannel: Local/q@x-00000001;1\nDestChannel: PJSIP/{evil}-00000001\n"
        "DialStatus: ANSWER\nTimestamp: 1764000005.0\n\n"
        "Event: QueueCallerLeave\nQueue: support\nUniqueid: 1764000000.1\nPosition: 1\nTimestamp: 1764000005.0\n\n"
        "Event: QueueCallerJoin\nQueue: support\nUniqueid: 1764000100.2\nPosition: 1\nTimestamp: 1764000100.0\n\n"
    )
    out = list(AmiCaptureFeed(cap, CONFIG).read())
    dead = [d for d in out if isinstance(d, DeadLetter)]
    assert len(dead) == 1 and "DestChannel" in dead[0].reason and "hash tag" in dead[0].reason
    assert [e.call_id for e in out if isinstance(e, CallerJoined)] == ["1764000000.1", "1764000100.2"]
    # the caller who left with no member's answer kept is settled as what the mapper can tell (no crash)
    assert not [e for e in out if getattr(e, "agent", None) == "{evil}"]
    assert all(not isinstance(e, CallerAbandoned) or e.call_id == "1764000000.1" for e in out)


def test_names_that_read_like_others_or_reversed_are_refused():
    assert name_problem("café") is None and name_problem("שירות לקוחות") is None  # NFC, Hebrew: fine
    for name in ("cafe\u0301", "a\u200bb", "x\u202eyz", "\ufeffq", " q", "q ", "a\u2028b"):
        assert name_problem(name), name


def test_rejected_input_is_shown_escaped_never_as_terminal_codes(tmp_path):
    ql = tmp_path / "esc.queue_log"
    ql.write_bytes(b"1764000000|c1|supp\x1b[31mRED\x1b]0;PWNED\x07|NONE|ENTERQUEUE||1|1\n")
    env = {**os.environ, "REDIS_URL": os.environ["REDIS_URL"]}
    out = subprocess.run(
        [sys.executable, "-m", "wallboard.cli", "replay", "--feed", "queue-log", str(ql)],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert "\x1b" not in out.stdout + out.stderr and "\x07" not in out.stderr
    assert "\\x1b[31mRED" in out.stderr and "Traceback" not in out.stderr


def test_a_bad_environment_variable_or_a_prefix_with_braces_is_one_line_exit_2(tmp_path):
    sample = str(ROOT / "samples" / "sample_day.queue_log")
    base = [sys.executable, "-m", "wallboard.cli", "replay", "--feed", "queue-log", sample]
    for extra_env, extra_args, words in (
        ({"WALLBOARD_QUEUES": "x"}, [], "WALLBOARD_"),
        ({}, ["--prefix", "a{b}"], "redis.prefix"),
        ({"WALLBOARD_REDIS__PREFIX": "wb{x"}, [], "redis.prefix"),
    ):
        env = {**os.environ, **extra_env}
        out = subprocess.run(base + extra_args, capture_output=True, text=True, env=env, timeout=60)
        assert out.returncode == 2, (extra_env, extra_args, out.stderr)
        assert words in out.stderr and "Traceback" not in out.stderr and len(out.stderr.strip().splitlines()) == 1
