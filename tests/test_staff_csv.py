"""`wallboard staff --csv`: the interval length comes from the CSV (its interval_s column), --interval-s, or the
starts themselves; half-hour rows are never taken as hours, and the interval used is printed."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

from wallboard.advisor import agents_for_sl

ROOT = Path(__file__).resolve().parent.parent


def staff(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "wallboard.cli", "staff", *args], cwd=ROOT, capture_output=True, text=True, timeout=60
    )


def expected_agents(calls: float, aht: float, interval_s: float) -> int:
    return agents_for_sl(calls / interval_s * aht, aht, 20, 0.8)


def test_half_hour_rows_are_half_hours(tmp_path):
    plain = tmp_path / "half.csv"
    plain.write_text("start,calls,aht_s\n08:00,100,180\n08:30,360,240\n09:00,0,0\n")
    out = staff("--csv", str(plain), "--json")
    assert out.returncode == 0, out.stderr
    res = json.loads(out.stdout)
    assert res["interval"] == {"interval_s": 1800, "from": "inferred from the starts"}
    rows = res["intervals"]
    # 100 calls in 30 min at 180 s = 10 erlangs -> 14 agents (as an hour it would be 5 erlangs -> 8)
    assert [r["load_erlangs"] for r in rows] == [10.0, 48.0, 0.0]
    assert [r["agents"] for r in rows] == [14, expected_agents(360, 240, 1800), 0]
    assert [r["scheduled"] for r in rows] == [20, math.ceil(rows[1]["agents"] / 0.7), 0]
    # the same rows with the interval written out give the same answer
    explicit = tmp_path / "explicit.csv"
    explicit.write_text("start,calls,aht_s,interval_s\n08:00,100,180,1800\n08:30,360,240,1800\n09:00,0,0,1800\n")
    res2 = json.loads(staff("--csv", str(explicit), "--json").stdout)
    assert [r["agents"] for r in res2["intervals"]] == [r["agents"] for r in rows]
    assert res2["interval"] == {"interval_s": 1800, "from": "the CSV's interval_s column"}
    table = staff("--csv", str(plain))
    assert table.returncode == 0 and "Intervals: 30 min (inferred from the starts)" in table.stdout


@pytest.mark.parametrize(
    ("body", "seconds"),
    [
        ("09:00,50,200\n10:00,80,200\n12:00,40,200\n", 3600),  # hourly, 11:00 missing
        ("2026-03-01 08:00,10,200\n2026-03-01 08:15,12,200\n2026-03-01T08:45,9,200\n", 900),  # dated, a gap
        ("23:00,10,200\n23:30,12,200\n00:00,9,200\n", 1800),  # past midnight
    ],
)
def test_the_interval_is_inferred_from_the_starts(tmp_path, body, seconds):
    f = tmp_path / "rows.csv"
    f.write_text("start,calls,aht_s\n" + body)
    res = json.loads(staff("--csv", str(f), "--json").stdout)
    assert res["interval"]["interval_s"] == seconds
    assert all(r["interval_s"] == seconds for r in res["intervals"])
    first = res["intervals"][0]
    assert first["agents"] == expected_agents(first["calls"], 200, seconds)


@pytest.mark.parametrize(
    ("body", "why"),
    [
        ("08:00,100,180\n", "one row"),
        ("morning,100,180\nevening,50,180\n", "'morning' is not a time"),
        ("08:00,100,180\n08:20,50,180\n08:50,50,180\n", "irregular"),
        ("08:00,100,180\n08:00,50,180\n", "do not go forward"),
    ],
)
def test_starts_that_cannot_tell_ask_for_the_interval(tmp_path, body, why):
    f = tmp_path / "rows.csv"
    f.write_text("start,calls,aht_s\n" + body)
    out = staff("--csv", str(f))
    assert out.returncode == 2 and out.stdout == ""
    assert "cannot tell the interval length" in out.stderr and why in out.stderr and "--interval-s" in out.stderr
    given = staff("--csv", str(f), "--interval-s", "900", "--json")
    assert given.returncode == 0, given.stderr
    res = json.loads(given.stdout)
    assert res["interval"] == {"interval_s": 900, "from": "--interval-s"}
    assert res["intervals"][0]["agents"] == expected_agents(100, 180, 900)


def test_a_flag_that_contradicts_the_starts_is_used_and_warned_about(tmp_path):
    f = tmp_path / "half.csv"
    f.write_text("start,calls,aht_s\n08:00,100,180\n08:30,360,240\n")
    out = staff("--csv", str(f), "--interval-s", "3600")
    assert out.returncode == 0
    assert "--interval-s 3600 but the starts are 1800 s apart" in out.stderr
    assert "Intervals: 60 min (--interval-s)" in out.stdout
    assert staff("--csv", str(f), "--interval-s", "0").returncode == 2
