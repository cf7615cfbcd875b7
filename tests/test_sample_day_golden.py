"""The sample day, end to end, against committed goldens: "behaviour must not change" checked on every run.

``samples/sample_day.queue_log`` (the example centre of ``config/wallboard.toml``, Sunday 2026-11-22) is read by the
queue_log feed and applied by the engine, as ``tests/test_report.py`` replays it. Three outputs are compared with
``tests/golden/sample_day/``:

- ``snapshot_1700.json``: the snapshot at 17:00 local, levels and alerts evaluated (what the owner publishes);
- ``report_day.json``: the day's report (``wallboard report``'s JSON, built the next morning at 01:00 local);
- ``report_day.csv``: the same report as ``wallboard report --format csv`` writes it.

Where the expected values come from: the goldens are a regression guard (they were written by this code and
reviewed), not an oracle. What makes them right is checked here independently: a small reading of the raw file
with the row meanings of docs/PROTOCOLS.md, sharing no code with the feed or the engine, gives per queue the
callers entered, answered, answered within the service level, abandoned (and short), overflowed by reason,
transferred and, at 17:00, still waiting, and per agent the calls handled; the snapshot and the report must show
exactly those. The rest (times, ratios, intervals, agent states) is held to the golden only.

A deliberate change of behaviour rewrites them: ``WALLBOARD_WRITE_GOLDEN=1 pytest tests/test_sample_day_golden.py``,
then review the diff of ``tests/golden/`` and commit it with the change.
"""

from __future__ import annotations

import json
import os
import tomllib
from collections import Counter, defaultdict
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from feeds.queue_log import QueueLogFeed
from wallboard.clock import ManualClock
from wallboard.history.calendar import CentreCalendar
from wallboard.reports.build import ReportRequest, build_report
from wallboard.reports.render_csv import render_csv
from wallboard.thresholds import LevelState

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "samples" / "sample_day.queue_log"
GOLDEN = Path(__file__).resolve().parent / "golden" / "sample_day"
TZ = ZoneInfo("Asia/Jerusalem")
FIVE_PM = datetime(2026, 11, 22, 17, 0, tzinfo=TZ)
NEXT_MORNING = datetime(2026, 11, 23, 1, 0, tzinfo=TZ)
WRITE = os.environ.get("WALLBOARD_WRITE_GOLDEN") == "1"

OVERFLOW = {"EXITWITHTIMEOUT": "timeout", "EXITEMPTY": "empty", "EXITWITHKEY": "key", "WITHDRAW": "withdrawn"}
ANSWERS = ("CONNECT", "BLINDTRANSFER", "ATTENDEDTRANSFER")


def raw_figures(queues: dict, interfaces: dict, until: float | None = None) -> tuple[dict, dict]:
    """Per queue and per agent, from the raw rows before ``until`` (epoch), by the table of docs/PROTOCOLS.md:
    a call is answered at its first CONNECT, or at a transfer row when no CONNECT came (asterisk/asterisk#759),
    with the hold time of that row (CONNECT: data1; BLINDTRANSFER: data3; ATTENDEDTRANSFER: third from the end);
    ABANDON's wait is data3; a call handled is counted for the agent that answered it."""
    per_queue: dict[str, Counter] = defaultdict(Counter)
    handled: Counter = Counter()
    joined: dict[str, str] = {}
    answered: set[str] = set()
    ended: set[str] = set()
    for line in SAMPLE.read_text(encoding="utf-8").splitlines():
        epoch, call, queue, agent, verb, *data = line.split("|")
        if until is not None and int(epoch) >= until:
            break
        if queue not in queues:
            continue
        c = per_queue[queue]
        if verb == "ENTERQUEUE":
            c["entered"] += 1
            joined[call] = queue
        elif verb in ANSWERS:
            if verb != "CONNECT":
                c["transferred"] += 1
            if call not in answered:
                answered.add(call)
                ended.add(call)
                c["answered"] += 1
                hold = int(data[0] if verb == "CONNECT" else data[2] if verb == "BLINDTRANSFER" else data[-3])
                c["answered_within_sl"] += hold <= queues[queue]["sl_threshold_s"]
                handled[interfaces[agent]] += 1
        elif verb == "ABANDON":
            ended.add(call)
            c["abandoned"] += 1
            c["short_abandoned"] += int(data[2]) <= queues[queue]["short_abandon_s"]
        elif verb in OVERFLOW:
            ended.add(call)
            c[f"overflowed:{OVERFLOW[verb]}"] += 1
    for call, queue in joined.items():
        per_queue[queue]["waiting"] += call not in ended
    return {q: {k: n for k, n in c.items() if n} for q, c in per_queue.items()}, dict(handled)


def shown(q: dict, *, waiting: bool) -> dict:
    """The same figures, as a snapshot's queue or a report's total row has them."""
    out = {k: q[k] for k in ("entered", "answered", "answered_within_sl", "abandoned", "short_abandoned")}
    out["transferred"] = q["transferred"]
    out.update({f"overflowed:{r}": n for r, n in q["overflowed_by_reason"].items() if n})
    if waiting:
        out["waiting"] = q["waiting"]
    return {k: v for k, v in out.items() if v}


def against_golden(name: str, text: str) -> str:
    path = GOLDEN / name
    if WRITE:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return path.read_text(encoding="utf-8")


def first_difference(want, got, where: str = "") -> str | None:
    """Where two JSON values first differ (a path), so a failure names the figure instead of a 1 MB diff."""
    if isinstance(want, dict) and isinstance(got, dict):
        for k in sorted(set(want) | set(got)):
            if k not in want or k not in got:
                return f"{where}/{k}: only in {'the golden' if k in want else 'this run'}"
            d = first_difference(want[k], got[k], f"{where}/{k}")
            if d:
                return d
        return None
    if isinstance(want, list) and isinstance(got, list):
        if len(want) != len(got):
            return f"{where}: {len(want)} items in the golden, {len(got)} now"
        for i, (a, b) in enumerate(zip(want, got)):
            d = first_difference(a, b, f"{where}[{i}]")
            if d:
                return d
        return None
    return None if want == got else f"{where}: golden {want!r}, now {got!r}"


async def test_the_sample_day_matches_its_goldens_and_the_raw_file(make_engine, redis_client, monkeypatch):
    monkeypatch.setenv("WALLBOARD_FCR_SALT", "golden-salt")  # first contact resolution on, whatever the env
    data = tomllib.loads((ROOT / "config" / "wallboard.toml").read_text(encoding="utf-8"))
    data.pop("redis")
    eng = await make_engine(**data)
    cal = CentreCalendar(eng.config.centre)
    queues = {q["name"]: q for q in data["queues"]}
    interfaces = {a["interface"]: a["id"] for a in data["agents"]}
    events = list(QueueLogFeed(SAMPLE, eng.config).read())
    day = cal.day_of(events[0].ts.timestamp())
    assert (day.isoformat(), str(cal.tz)) == ("2026-11-22", "Asia/Jerusalem")

    before = [e for e in events if e.ts < FIVE_PM]
    for k in range(0, len(before), 5000):
        await eng.apply(before[k : k + 5000])
    snap, _ = eng.evaluate(await eng.build_snapshot(FIVE_PM), LevelState(), FIVE_PM)
    await eng.apply([e for e in events if e.ts >= FIVE_PM])
    rep = await build_report(
        redis_client, eng.config, ReportRequest(cal.period("day", day)), keys=eng.keys, clock=ManualClock(NEXT_MORNING)
    )

    # independent: the raw rows counted by hand's rules
    at_five, handled_by_five = raw_figures(queues, interfaces, until=FIVE_PM.timestamp())
    whole, handled_all = raw_figures(queues, interfaces)
    got = snap.model_dump(mode="json")
    assert {q: shown(got["queues"][q], waiting=True) for q in queues} == at_five
    assert {a: s["calls_handled"] for a, s in got["agents"].items() if s["calls_handled"]} == handled_by_five
    assert {q: shown(rep["queues"][q]["total"], waiting=False) for q in queues} == {
        q: {k: v for k, v in c.items() if k != "waiting"} for q, c in whole.items()
    }
    assert {a: r["total"]["calls_handled"] for a, r in rep["agents"].items() if r["total"]["calls_handled"]} == (
        handled_all
    )
    # hand-checked spot figures of the day (the raw file, counted with grep): 1,736 callers, 69 transfers,
    # 2 callers waiting at 17:00 (both in support)
    assert rep["total"]["entered"] == sum(c["entered"] for c in whole.values()) == 1736
    assert rep["total"]["transferred"] == 69
    assert got["total"]["waiting"] == 2 and at_five["support"]["waiting"] == 2

    # the goldens: everything else, unchanged
    snap_text = json.dumps(got, ensure_ascii=False, indent=1, sort_keys=True) + "\n"
    rep_text = json.dumps(rep, ensure_ascii=False, indent=1, sort_keys=True) + "\n"
    csv_text = render_csv(rep)
    for name, text in (("snapshot_1700.json", snap_text), ("report_day.json", rep_text)):
        where = first_difference(json.loads(against_golden(name, text)), json.loads(text))
        assert not where, f"{name}: {where}"
    want_csv = against_golden("report_day.csv", csv_text).splitlines()
    diff = [(i + 1, a, b) for i, (a, b) in enumerate(zip(want_csv, csv_text.splitlines())) if a != b]
    assert (len(want_csv), diff[:3]) == (len(csv_text.splitlines()), []), "report_day.csv: (line, golden, now)"
    if WRITE:
        pytest.fail(f"goldens written to {GOLDEN}: review the diff and commit it (unset WALLBOARD_WRITE_GOLDEN)")
