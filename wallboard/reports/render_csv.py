"""The report as one CSV table (for a spreadsheet): one row per queue interval or day, per queue total, the
all-queues total, per agent row and agent total, and per gap; the ``section`` column says which.

Times are local ISO 8601 with the offset; ratios are fractions (0.8125), durations seconds; an empty cell is a
ratio with nothing to divide by.
"""

from __future__ import annotations

import csv
import io

from .. import catalog
from ..channels import label as channel_label

# The columns of each side, in the catalog's CSV order (``Metric.csv``; a breakdown as its parts).
QUEUE_COLS = catalog.csv_columns("queue")
AGENT_COLS = catalog.csv_columns("agent")
# an agent column older than its queue twin keeps its name (the queue's is "queue.NAME"): files read by name
_AGENT_KEEPS = frozenset({"occupancy"})
# a breakdown's column -> (the figure holding the parts, the part)
_PARTS = {f"{m.store}:{p}": (m.name, p) for m in catalog.queue(kind="counter") if m.breakdown for p in m.breakdown}


def text_cell(s: str) -> str:
    """A name or id as a spreadsheet should show it: one that begins like a formula (=, +, -, @, tab, CR) gets a
    leading apostrophe (OWASP's CSV injection advice), so opening the report never runs what an agent or queue
    was named."""
    return "'" + s if s[:1] in ("=", "+", "-", "@", "\t", "\r") else s


def _v(x) -> str:
    if x is None:
        return ""
    if isinstance(x, float):
        return f"{x:.4f}".rstrip("0").rstrip(".") if x != int(x) else str(int(x))
    return str(x)


# the label column of the total rows, per language (the column names stay the same in every language)
TOTAL_LABELS = {
    "en": {"total": "all queues", "channel": "all {channel} queues", "agents": "all agents", "gap": "no data"},
    "he": {"total": "כל התורים", "channel": "כל תורי {channel}", "agents": "כל הנציגים", "gap": "אין נתונים"},
}


def render_csv(rep: dict, lang: str = "en") -> str:
    lw = TOTAL_LABELS[lang]
    reasons = sorted({r for a in rep["agents"].values() for r in a["total"]["pause_s_by_reason"]})
    head = ["section", "name", "label", "start", "end", "gap_s"]
    qcols = [f"queue.{c}" if c in AGENT_COLS else c for c in QUEUE_COLS]
    acols = [f"agent.{c}" if c in QUEUE_COLS and c not in _AGENT_KEEPS else c for c in AGENT_COLS]
    head += qcols + acols + [f"pause_s:{r}" for r in reasons]
    # first contact resolution: on the queue, all-queues and agent totals (reports.fcr)
    head += ["fcr.contacts", "fcr.resolved", "fcr", "fcr.provisional"]
    # targets (wallboard.targets): figure=met|missed on day rows (their day's target) and queue totals (the period's)
    head += ["targets"]
    met_of: dict[tuple[str, ...], dict] = {}
    for qn, q in rep["queues"].items():
        met_of[("queue_total", qn, rep["period"]["start"])] = q["total"].get("met") or {}
        for r in q["rows"]:
            if r.get("met"):
                met_of[("queue", qn, r["start"])] = r["met"]
    fcr = rep.get("fcr") or {}
    fcr_of = {
        "queue_total": fcr.get("queues", {}),
        "agent_total": fcr.get("agents", {}),
        "total": {"": fcr["total"]} if fcr else {},
    }
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow(head)

    class _Rows:
        @staticmethod
        def writerow(cells: list[str]) -> None:
            f = fcr_of.get(cells[0], {}).get(cells[1])
            if f is None:
                extra = ["", "", "", ""]
            else:
                prov = "provisional" if fcr["provisional"] else "final"
                extra = [_v(f["contacts"]), _v(f["resolved"]), _v(f["fcr"]), prov]
            met = met_of.get((cells[0], cells[1], cells[3]), {})
            shown = ";".join(f"{k}={'met' if v else 'missed'}" for k, v in met.items() if v is not None)
            writer.writerow([cells[0], text_cell(cells[1]), text_cell(cells[2]), *cells[3:], *extra, shown])

    w = _Rows()
    blank_a = [""] * (len(acols) + len(reasons))

    def qvals(f: dict) -> list[str]:
        out = []
        for c in QUEUE_COLS:
            if c in _PARTS:
                name, part = _PARTS[c]
                out.append(_v(f[name].get(part, 0)))
            else:
                out.append(_v(f.get(c)))
        return out

    def avals(f: dict) -> list[str]:
        return [_v(f.get(c)) for c in AGENT_COLS] + [_v(f["pause_s_by_reason"].get(r, 0)) for r in reasons]

    period = rep["period"]
    for name, q in rep["queues"].items():
        for r in q["rows"]:
            w.writerow(["queue", name, r["label"], r["start"], r["end"], _v(r["gap_s"]), *qvals(r), *blank_a])
        w.writerow(
            [
                "queue_total",
                name,
                q["label"],
                period["start"],
                period["end"],
                _v(q["total"]["gap_s"]),
                *qvals(q["total"]),
                *blank_a,
            ]
        )
    w.writerow(
        [
            "total",
            "",
            lw["total"],
            period["start"],
            period["end"],
            _v(rep["total"]["gap_s"]),
            *qvals(rep["total"]),
            *blank_a,
        ]
    )
    for ch, f in (rep.get("channels") or {}).items():  # a blended centre: each channel's queues together
        name = ch if lang == "en" else channel_label(ch, lang)
        w.writerow(
            [
                "channel_total",
                ch,
                lw["channel"].format(channel=name),
                period["start"],
                period["end"],
                "",
                *qvals(f),
                *blank_a,
            ]
        )
    blank_q = [""] * len(qcols)
    for aid, a in rep["agents"].items():
        for r in a["rows"]:
            if r["has_data"] or r["gap_s"]:
                w.writerow(
                    ["agent", aid, a.get("name") or "", r["start"], r["end"], _v(r["gap_s"]), *blank_q, *avals(r)]
                )
        w.writerow(
            ["agent_total", aid, a.get("name") or "", period["start"], period["end"], "", *blank_q, *avals(a["total"])]
        )
    w.writerow(
        ["agents_total", "", lw["agents"], period["start"], period["end"], "", *blank_q, *avals(rep["agent_total"])]
    )
    for g in rep["gaps"]:
        w.writerow(["gap", g.get("feed") or "", lw["gap"], g["start"], g["end"], _v(g["length_s"]), *blank_q, *blank_a])
    return buf.getvalue()
