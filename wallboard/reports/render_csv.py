"""The report as one CSV table (for a spreadsheet): one row per queue interval or day, per queue total, the
all-queues total, per agent row and agent total, and per gap; the ``section`` column says which.

Times are local ISO 8601 with the offset; ratios are fractions (0.8125), durations seconds; an empty cell is a
ratio with nothing to divide by.
"""

from __future__ import annotations

import csv
import io

from ..events import OVERFLOW_REASONS

QUEUE_COLS = ("entered", "offered", "answered", "answered_within_sl", "abandoned", "short_abandoned",
              "abandoned_within_sl", "overflowed", *(f"overflowed:{r}" for r in OVERFLOW_REASONS), "service_level",
              "sl_numerator", "sl_denominator", "asa_s", "avg_wait_s", "abandon_rate", "aht_s", "completed",
              "talk_s", "wrap_s", "wait_answered_s", "wait_all_s", "peak_waiting")  # fmt: skip
AGENT_COLS = ("calls_handled", "talk_s", "wrap_s", "available_s", "occupancy", "missed", "outbound_calls",
              "dial_attempts", "pause_s")  # fmt: skip


def _v(x) -> str:
    if x is None:
        return ""
    if isinstance(x, float):
        return f"{x:.4f}".rstrip("0").rstrip(".") if x != int(x) else str(int(x))
    return str(x)


def render_csv(rep: dict) -> str:
    reasons = sorted({r for a in rep["agents"].values() for r in a["total"]["pause_s_by_reason"]})
    head = ["section", "name", "label", "start", "end", "gap_s"]
    qcols = [f"queue.{c}" if c in AGENT_COLS else c for c in QUEUE_COLS]
    acols = [f"agent.{c}" if c in QUEUE_COLS else c for c in AGENT_COLS]
    head += qcols + acols + [f"pause_s:{r}" for r in reasons]
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(head)
    blank_a = [""] * (len(acols) + len(reasons))

    def qvals(f: dict) -> list[str]:
        out = []
        for c in QUEUE_COLS:
            if c.startswith("overflowed:"):
                out.append(_v(f["overflowed_by_reason"].get(c.split(":", 1)[1], 0)))
            else:
                out.append(_v(f.get(c)))
        return out

    def avals(f: dict) -> list[str]:
        return [_v(f.get(c)) for c in AGENT_COLS] + [_v(f["pause_s_by_reason"].get(r, 0)) for r in reasons]

    period = rep["period"]
    for name, q in rep["queues"].items():
        for r in q["rows"]:
            w.writerow(["queue", name, r["label"], r["start"], r["end"], _v(r["gap_s"]), *qvals(r), *blank_a])
        w.writerow(["queue_total", name, q["label"], period["start"], period["end"], _v(q["total"]["gap_s"]),
                    *qvals(q["total"]), *blank_a])  # fmt: skip
    w.writerow(["total", "", "all queues", period["start"], period["end"], _v(rep["total"]["gap_s"]),
                *qvals(rep["total"]), *blank_a])  # fmt: skip
    blank_q = [""] * len(qcols)
    for aid, a in rep["agents"].items():
        for r in a["rows"]:
            if r["has_data"] or r["gap_s"]:
                w.writerow(["agent", aid, a.get("name") or "", r["start"], r["end"], _v(r["gap_s"]), *blank_q,
                            *avals(r)])  # fmt: skip
        w.writerow(["agent_total", aid, a.get("name") or "", period["start"], period["end"], "", *blank_q,
                    *avals(a["total"])])  # fmt: skip
    w.writerow(["agents_total", "", "all agents", period["start"], period["end"], "", *blank_q,
                *avals(rep["agent_total"])])  # fmt: skip
    for g in rep["gaps"]:
        w.writerow(["gap", g.get("feed") or "", "no data", g["start"], g["end"], _v(g["length_s"]), *blank_q,
                    *blank_a])  # fmt: skip
    return buf.getvalue()
