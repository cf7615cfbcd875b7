"""Real data end to end: the Anonymous Bank records (../shared/data/anonymous_bank) through
``wallboard replay --feed calls-csv --mapping bank``, checked against figures this test computes itself from
the raw file (its own small parser below; it does not use feeds.calls_csv).

How a record counts (docs/PROTOCOLS.md, "Real captures"): a call is offered to the queue of its service ``type``
when it queued (a queue group that happened: ``q_start``/``q_exit`` not ``0:00:00`` or ``q_time`` not 0 —
``0:00:00`` alone means "not applicable", yet one February row really queued at midnight) with wait
``q_time``, or when the outcome is AGENT and it was served from the voice menu (a service group that
happened) with wait 0. AGENT = answered; HANG after queueing = abandoned; HANG without queueing = never
offered; PHANTOM = ignored; AGENT with neither queue nor service = rejected. An answered call with service
times is completed, with talk ``ser_time``.

Run with ``--window all`` (the whole file is one window), so calls that cross midnight count once.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest

from .conftest import shared_data

DATA = shared_data() / "anonymous_bank"
ROOT = Path(__file__).resolve().parents[1]
NA = "0:00:00"
SL_THRESHOLD_S = 20
SHORT_ABANDON_S = 5
# One formula per queue, so the day checks each of them (DESIGN.md "Metrics — the contract").
FORMULAS = {
    "PS": "excl_short_abandons",
    "NW": "answered",
    "NE": "all_offered",
    "IN": "abandons_good",
    "TT": "excl_short_abandons",
    "PE": "answered",
}


KEYS = (
    "entered",
    "offered",
    "answered",
    "answered_within_sl",
    "abandoned",
    "short_abandoned",
    "abandoned_within_sl",
    "completed",
    "talk_s",
    "wait_answered_s",
    "wait_all_s",
)


def _happened(start: str, end: str, secs: str) -> bool:
    return start != NA or end != NA or int(secs) != 0


def expected_from_raw(lines: list[str]) -> dict[str, dict[str, float]]:
    """Per queue: the counters and sums, straight from the raw TAB-separated rows (header excluded)."""
    q: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for line in lines:
        (_vru, _cid, _cust, _prio, typ, _date, _ve, _vx, _vt, qs, qx, qt, outcome, ss, sx, st, _server) = line.rstrip(
            "\n"
        ).split("\t")
        queued = _happened(qs, qx, qt)
        served = _happened(ss, sx, st)
        c = q[typ]
        if outcome == "AGENT" and (queued or served):
            wait = int(qt) if queued else 0
            c["answered"] += 1
            c["answered_within_sl"] += wait <= SL_THRESHOLD_S
            c["wait_answered_s"] += wait
            c["wait_all_s"] += wait
            if served:
                c["completed"] += 1
                c["talk_s"] += int(st)
        elif outcome == "HANG" and queued:
            wait = int(qt)
            c["abandoned"] += 1
            c["short_abandoned"] += wait <= SHORT_ABANDON_S
            c["abandoned_within_sl"] += wait <= SL_THRESHOLD_S
            c["wait_all_s"] += wait
        elif outcome not in ("AGENT", "HANG", "PHANTOM"):
            raise AssertionError(f"unexpected outcome in the raw data: {line!r}")
    out = {}
    for name, c in q.items():
        if not c["answered"] + c["abandoned"]:
            continue  # only hang-ups in the voice menu: the queue never sees a caller
        c["offered"] = c["entered"] = c["answered"] + c["abandoned"]
        out[name] = {k: c[k] for k in KEYS}
    return out


def rejected_from_raw(lines: list[str]) -> int:
    """AGENT rows with neither queue nor service times: the feed's dead letters in the real data."""
    n = 0
    for line in lines:
        f = line.rstrip("\n").split("\t")
        n += f[12] == "AGENT" and not _happened(f[9], f[10], f[11]) and not _happened(f[13], f[14], f[15])
    return n


def service_level(c: dict[str, float], formula: str) -> float | None:
    ans, within, ab, short = c["answered"], c["answered_within_sl"], c["abandoned"], c["short_abandoned"]
    num, den = {
        "answered": (within, ans),
        "excl_short_abandons": (within, ans + ab - short),
        "all_offered": (within, ans + ab),
        "abandons_good": (within + c["abandoned_within_sl"], ans + ab),
    }[formula]
    return num / den if den else None


def ratio(num: float, den: float) -> float | None:
    return num / den if den else None


def write_config(tmp_path: Path) -> Path:
    parts = ['[centre]\nname = "Anonymous Bank"\ntimezone = "Asia/Jerusalem"\n']
    for name, formula in FORMULAS.items():
        parts.append(
            f'[[queues]]\nname = "{name}"\nsl_threshold_s = {SL_THRESHOLD_S}\nshort_abandon_s = {SHORT_ABANDON_S}\n'
            f'sl_formula = "{formula}"\n'
        )
    p = tmp_path / "bank.toml"
    p.write_text("\n".join(parts), encoding="utf-8")
    return p


def replay_json(path: Path, config: Path) -> dict:
    cmd = [
        sys.executable,
        "-m",
        "wallboard.cli",
        "replay",
        "--feed",
        "calls-csv",
        "--mapping",
        "bank",
        str(path),
        "--json",
        "--window",
        "all",
        "--config",
        str(config),
    ]
    proc = subprocess.run(cmd, cwd=ROOT, env=os.environ.copy(), capture_output=True, text=True, timeout=1800)
    assert proc.returncode == 0, f"replay failed ({proc.returncode}):\n{proc.stderr[-4000:]}"
    return json.loads(proc.stdout)


def close(actual: float | None, expected: float | None) -> bool:
    if expected is None or actual is None:
        return actual is expected
    return abs(actual - expected) <= 1e-9


def data_lines(name: str) -> tuple[str, list[str]]:
    with open(DATA / name, encoding="ascii") as f:
        header, *rows = f.readlines()
    return header, [r for r in rows if r.strip()]


@pytest.mark.slow
def test_one_real_day_queue_by_queue(tmp_path):
    header, rows = data_lines("03_March.txt")
    day = [r for r in rows if r.split("\t")[5] == "990315"]  # date = the day of vru_entry
    assert len(day) > 1000
    day_file = tmp_path / "bank_1999-03-15.txt"
    day_file.write_text(header + "".join(day), encoding="ascii")
    expected = expected_from_raw(day)

    snap = replay_json(day_file, write_config(tmp_path))
    queues = snap["queues"]
    assert snap["window"]["kind"] == "all"
    for name, exp in sorted(expected.items()):
        got = queues[name]
        for k in (
            "entered",
            "offered",
            "answered",
            "abandoned",
            "answered_within_sl",
            "short_abandoned",
            "abandoned_within_sl",
            "completed",
        ):
            assert got[k] == exp[k], f"{name}.{k}: replay {got[k]}, raw file {exp[k]}"
        assert got["overflowed"] == 0, name
        for k in ("wait_answered_s", "wait_all_s", "talk_s"):
            assert close(got[k], exp[k]), f"{name}.{k}: replay {got[k]}, raw file {exp[k]}"
        checks = {
            "asa_s": ratio(exp["wait_answered_s"], exp["answered"]),
            "avg_wait_s": ratio(exp["wait_all_s"], exp["offered"]),
            "service_level": service_level(exp, FORMULAS[name]),
            "abandon_rate": ratio(exp["abandoned"] - exp["short_abandoned"], exp["offered"] - exp["short_abandoned"]),
        }
        assert got["sl_formula"] == FORMULAS[name] and got["sl_threshold_s"] == SL_THRESHOLD_S
        for k, v in checks.items():
            assert close(got[k], v), f"{name}.{k}: replay {got[k]}, raw file {v}"
    # Queues with offered calls are exactly those the raw file has.
    assert {n for n, q in queues.items() if q["offered"]} == set(expected)
    assert snap["total"]["offered"] == sum(e["offered"] for e in expected.values())
    assert snap["total"]["answered"] == sum(e["answered"] for e in expected.values())
    assert snap["dead_letters"] == rejected_from_raw(day)


@pytest.mark.slow
def test_one_real_month_counts_every_offered_call_once(tmp_path):
    # February: 17,828 rows share a call_id with an earlier row (on another vru+line): each is its own call.
    _, rows = data_lines("02_February.txt")
    by_id = defaultdict(int)
    for r in rows:
        by_id[r.split("\t")[1]] += 1
    assert sum(n - 1 for n in by_id.values() if n > 1) == 17828
    expected = expected_from_raw(rows)

    snap = replay_json(DATA / "02_February.txt", write_config(tmp_path))
    queues = snap["queues"]
    for name, exp in sorted(expected.items()):
        for k in ("entered", "offered", "answered", "abandoned"):
            assert queues[name][k] == exp[k], f"{name}.{k}: replay {queues[name][k]}, raw file {exp[k]}"
    assert {n for n, q in queues.items() if q["offered"]} == set(expected)
    assert sum(q["offered"] for q in queues.values()) == sum(e["offered"] for e in expected.values())
    assert snap["total"]["offered"] == sum(e["offered"] for e in expected.values())
    assert snap["dead_letters"] == rejected_from_raw(rows) == 21  # the AGENT rows with no times
