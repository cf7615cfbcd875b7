"""The report as one self-contained HTML file: tables and inline SVG charts, no script, no external resource.

Made to be read in a mail client (a client that drops SVG still shows every figure in the tables) and printed
(table headers repeat on each page, rows and charts are not split). Gaps in the data are drawn as hatched
bands on the charts, marked on the table rows they touch and listed at the top.
"""

from __future__ import annotations

import math
import zlib
from html import escape
from typing import Iterable

SL_LABEL = {
    "answered": "answered within {t} s / answered",
    "excl_short_abandons": "answered within {t} s / (answered + abandoned − short abandoned{o})",
    "all_offered": "answered within {t} s / (answered + abandoned{o})",
    "abandons_good": "(answered + abandoned within {t} s) / (answered + abandoned{o})",
}
COLORS = {
    "answered": "#2f6db5",
    "abandoned": "#e07b24",
    "overflowed": "#8c8c8c",
    "sl": "#1f8a4c",
    "talk": "#2f6db5",
    "wrap": "#7fa7d9",
    "available": "#bfe0c6",
    "paused": "#f0c05a",
    "gap": "#c0392b",
}

CSS = """
body{margin:0;padding:16px;background:#f4f5f7;color:#1d2733;font:14px/1.4 -apple-system,'Segoe UI',Roboto,
 Helvetica,Arial,sans-serif}
.page{max-width:1000px;margin:0 auto;background:#fff;padding:20px 24px;border:1px solid #dde1e6}
h1{font-size:22px;margin:0 0 2px}h2{font-size:17px;margin:26px 0 6px;padding-bottom:3px;border-bottom:2px solid #2f6db5}
.sub{color:#5b6776;font-size:13px}.small{color:#5b6776;font-size:12px}
table{border-collapse:collapse;width:100%;margin:6px 0 4px;font-size:12.5px}
th,td{padding:3px 6px;border-bottom:1px solid #e3e6ea;text-align:right;white-space:nowrap}
th{background:#eef1f5;font-weight:600;color:#33404f;border-bottom:1px solid #c9d0d8}
th:first-child,td:first-child{text-align:left}
tr.total td{font-weight:700;border-top:2px solid #33404f;background:#f7f8fa}
tr.gap td{background:repeating-linear-gradient(135deg,#fdecea,#fdecea 6px,#fff 6px,#fff 12px)}
tr.empty td{color:#a0a8b2}
.flag{color:#c0392b;font-weight:700}
.box{border:1px solid #d0d6dd;border-left:4px solid #2f6db5;background:#f7f9fc;padding:6px 10px;margin:10px 0}
.box.warn{border-left-color:#c0392b;background:#fdf3f2}
.legend span{display:inline-block;margin-right:12px}.sw{display:inline-block;width:10px;height:10px;margin-right:4px}
.chart{margin:6px 0 2px;break-inside:avoid;page-break-inside:avoid}
.chart svg{max-width:100%;height:auto}
dl{font-size:12px;color:#33404f}dt{font-weight:600;margin-top:4px}dd{margin:0 0 0 12px}
@media print{body{background:#fff;padding:0}.page{border:0;max-width:none;padding:0}
 thead{display:table-header-group}tr,.box{page-break-inside:avoid;break-inside:avoid}
 h2{page-break-after:avoid;break-after:avoid}.agents{page-break-before:always;break-before:page}}
@page{margin:14mm 12mm}
"""


def pct(v) -> str:
    return "–" if v is None else f"{v * 100:.1f}%"


def secs(v) -> str:
    return "–" if v is None else f"{v:.0f} s"


def mmss(v) -> str:
    if v is None:
        return "–"
    v = int(round(v))
    return f"{v // 60}:{v % 60:02d}"


def hmm(v) -> str:
    v = int(round(v or 0))
    return f"{v // 3600}:{v % 3600 // 60:02d}"


def num(v) -> str:
    return "–" if v is None else f"{v:,}"


def render_html(rep: dict) -> str:
    p = rep["period"]
    title = f"{rep['centre']} — {_kind_word(p['kind'])} report — {p['label']}"
    generated = rep["generated_at"].replace("T", " ").replace("Z", " UTC")
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width,initial-scale=1">',
        f'<title>{escape(title)}</title><style>{CSS}</style></head><body><div class="page">',
        f"<h1>{escape(rep['centre'])}</h1>",
        f'<div class="sub">{escape(_kind_word(p["kind"]).capitalize())} report · <b>{escape(p["label"])}</b> · '
        f"{escape(p['start'][:16].replace('T', ' '))} to {escape(p['end'][:16].replace('T', ' '))} "
        f"({escape(rep['timezone'])}) · generated {escape(generated)}</div>",
    ]
    for n in rep["notes"]:
        parts.append(f'<div class="box">{escape(n)}</div>')
    if rep["gaps"]:
        items = "".join(
            f"<li>{escape(_local(g['start'], rep))} – {escape(_local(g['end'], rep))} "
            f"({_dur(g['length_s'])}, feed {escape(str(g.get('feed') or '?'))})</li>"
            for g in rep["gaps"]
        )
        parts.append(
            '<div class="box warn"><b class="flag">Gaps in the data.</b> The feed saw nothing during these '
            "times, so the figures below miss whatever happened then. Rows they touch are hatched and marked "
            f'<span class="flag">gap</span>.<ul style="margin:4px 0">{items}</ul></div>'
        )
    parts.append(_summary(rep))
    for name, q in rep["queues"].items():
        parts.append(_queue_section(name, q, rep))
    parts.append(_agents_section(rep))
    parts.append(_definitions())
    parts.append("</div></body></html>")
    return "\n".join(parts)


def _kind_word(kind: str) -> str:
    return {"day": "daily", "week": "weekly", "month": "monthly"}.get(kind, "period")


def _local(utc_iso: str, rep: dict) -> str:
    from datetime import datetime
    from zoneinfo import ZoneInfo

    return (
        datetime.fromisoformat(utc_iso.replace("Z", "+00:00"))
        .astimezone(ZoneInfo(rep["timezone"]))
        .strftime("%a %d %b %H:%M")
    )


def _dur(s: float) -> str:
    s = int(round(s))
    return f"{s // 3600} h {s % 3600 // 60:02d} min" if s >= 3600 else f"{s // 60} min {s % 60:02d} s"


def _gapmark(row: dict) -> str:
    return f' <span class="flag" title="no data for {int(row["gap_s"])} s">gap</span>' if row.get("gap_s") else ""


# -- queues --------------------------------------------------------------------------------------------------

Q_HEAD = (
    "Entered",
    "Offered",
    "Answered",
    "Abandoned",
    "Short ab.",
    "Overflowed",
    "SL",
    "ASA",
    "Avg wait",
    "Aband. rate",
    "AHT",
    "Peak waiting",
)


def _qcells(f: dict) -> list[str]:
    return [
        num(f["entered"]),
        num(f["offered"]),
        num(f["answered"]),
        num(f["abandoned"]),
        num(f["short_abandoned"]),
        num(f["overflowed"]),
        pct(f["service_level"]),
        secs(f["asa_s"]),
        secs(f["avg_wait_s"]),
        pct(f["abandon_rate"]),
        mmss(f["aht_s"]),
        num(f["peak_waiting"]),
    ]


def _row(cells: Iterable[str], cls: str = "") -> str:
    c = f' class="{cls}"' if cls else ""
    return f"<tr{c}>" + "".join(f"<td>{x}</td>" for x in cells) + "</tr>"


def _head(first: str, cols: Iterable[str]) -> str:
    cells = "".join(f"<th>{escape(c)}</th>" for c in [first, *cols])
    return f"<thead><tr>{cells}</tr></thead>"


def _summary(rep: dict) -> str:
    rows = [_row([f"<b>{escape(q['label'])}</b>", *_qcells(q["total"])]) for q in rep["queues"].values()]
    if len(rep["queues"]) > 1:
        rows.append(_row(["All queues", *_qcells(rep["total"])], "total"))
    return (
        f"<h2>Summary</h2><table>{_head('Queue', Q_HEAD)}<tbody>{''.join(rows)}</tbody></table>"
        '<div class="small">SL by each queue\'s own formula (below each queue); the all-queues SL is the sum of '
        "their numerators over the sum of their denominators. Waits and ASA in seconds, AHT in minutes:seconds."
        "</div>"
    )


def _sl_text(q: dict) -> str:
    o = " + overflowed" if q["count_overflow"] else ""
    return SL_LABEL[q["sl_formula"]].format(t=f"{q['sl_threshold_s']:g}", o=o)


def _queue_section(name: str, q: dict, rep: dict) -> str:
    unit = "Interval" if rep["detail"] == "interval" else "Day"
    body = []
    for r in q["rows"]:
        cls = "gap" if r["gap_s"] else ("" if r["has_data"] else "empty")
        body.append(_row([escape(r["label"]) + _gapmark(r), *_qcells(r)], cls))
    body.append(_row(["Total", *_qcells(q["total"])], "total"))
    by_reason = q["total"]["overflowed_by_reason"]
    reasons = ", ".join(f"{escape(k)} {v}" for k, v in sorted(by_reason.items())) or "none"
    label = q["label"] if q["label"] == name else f"{q['label']} ({name})"
    return (
        f"<h2>{escape(label)}</h2>"
        f'<div class="small">Service level = {escape(_sl_text(q))}; short abandon ≤ {q["short_abandon_s"]:g} s. '
        f"Overflowed by reason: {reasons}.</div>"
        f'<div class="chart">{queue_chart(q, rep["detail"])}</div>'
        f"<table>{_head(unit, Q_HEAD)}<tbody>{''.join(body)}</tbody></table>"
    )


def _nice_max(v: float) -> float:
    """A round top for an axis of four steps."""
    if v <= 4:
        return 4
    mag = 10 ** math.floor(math.log10(v / 4))
    for m in (1, 2, 2.5, 5, 10):
        if m * mag * 4 >= v:
            return m * mag * 4
    return v


def queue_chart(q: dict, detail: str) -> str:
    """Stacked bars of answered / abandoned / overflowed per row, the SL line on its own axis, gap bands."""
    rows = q["rows"]
    W, H, L, R, T, B = 960, 230, 44, 44, 12, 40
    pw, ph = W - L - R, H - T - B
    n = max(1, len(rows))
    bw = pw / n
    ymax = _nice_max(max([r["offered"] for r in rows] + [1]))
    uid = f"gap{zlib.crc32(q['label'].encode()):08x}"
    out = [
        f'<svg width="{W}" height="{H}" viewBox="0 0 {W} {H}" '
        f'font-family="Helvetica,Arial,sans-serif" font-size="11" role="img" '
        f'aria-label="Calls and service level per {"interval" if detail == "interval" else "day"}">',
        f'<defs><pattern id="{uid}" width="6" height="6" patternUnits="userSpaceOnUse" '
        f'patternTransform="rotate(45)"><rect width="3" height="6" fill="{COLORS["gap"]}" opacity="0.35"/>'
        "</pattern></defs>",
    ]
    for k in range(5):
        y = T + ph - ph * k / 4
        out.append(f'<line x1="{L}" y1="{y:.1f}" x2="{L + pw}" y2="{y:.1f}" stroke="#e3e6ea"/>')
        out.append(f'<text x="{L - 5}" y="{y + 4:.1f}" text-anchor="end" fill="#5b6776">{ymax * k / 4:g}</text>')
        out.append(f'<text x="{L + pw + 5}" y="{y + 4:.1f}" fill="{COLORS["sl"]}">{25 * k}%</text>')

    def labelled(i: int, r: dict) -> bool:
        if n <= 16:
            return True
        if detail == "interval":  # whole hours (every other one on a long day)
            return r["label"].endswith(":00") and (n <= 64 or int(r["label"][:2]) % 2 == 0)
        return i % math.ceil(n / 16) == 0

    for i, r in enumerate(rows):
        x = L + i * bw
        if r["gap_s"]:
            out.append(f'<rect x="{x:.1f}" y="{T}" width="{bw:.1f}" height="{ph}" fill="url(#{uid})"/>')
        y = T + ph
        for key in ("answered", "abandoned", "overflowed"):
            h = ph * r[key] / ymax
            if h > 0:
                y -= h
                out.append(
                    f'<rect x="{x + bw * 0.12:.1f}" y="{y:.1f}" width="{bw * 0.76:.1f}" height="{h:.1f}" '
                    f'fill="{COLORS[key]}"><title>{escape(r["label"])}: {key} {r[key]}</title></rect>'
                )
        if labelled(i, r):
            out.append(
                f'<text x="{x + bw / 2:.1f}" y="{T + ph + 14}" text-anchor="middle" fill="#5b6776">'
                f"{escape(r['label'] if detail == 'interval' else r['label'][4:])}</text>"
            )
    # the SL line, broken where there is no SL
    seg: list[str] = []
    lines = []
    for i, r in enumerate(rows):
        v = r["service_level"]
        if v is None:
            if seg:
                lines.append(seg)
            seg = []
            continue
        seg.append(f"{L + (i + 0.5) * bw:.1f},{T + ph - ph * v:.1f}")
    if seg:
        lines.append(seg)
    for s in lines:
        if len(s) > 1:
            out.append(f'<polyline points="{" ".join(s)}" fill="none" stroke="{COLORS["sl"]}" stroke-width="2"/>')
        for pt in s:
            x, y = pt.split(",")
            out.append(f'<circle cx="{x}" cy="{y}" r="2.2" fill="{COLORS["sl"]}"/>')
    out.append(f'<line x1="{L}" y1="{T + ph}" x2="{L + pw}" y2="{T + ph}" stroke="#5b6776"/>')
    if q.get("sl_target") is not None:
        y = T + ph - ph * q["sl_target"]
        out.append(
            f'<line x1="{L}" y1="{y:.1f}" x2="{L + pw}" y2="{y:.1f}" stroke="{COLORS["sl"]}" '
            f'stroke-dasharray="5,4"><title>SL target {pct(q["sl_target"])}</title></line>'
        )
    # legend
    lx, ly = L, H - 8
    for key, text in (("answered", "answered"), ("abandoned", "abandoned"), ("overflowed", "overflowed")):
        out.append(
            f'<rect x="{lx}" y="{ly - 9}" width="10" height="10" fill="{COLORS[key]}"/>'
            f'<text x="{lx + 14}" y="{ly}" fill="#33404f">{text}</text>'
        )
        lx += 90
    out.append(
        f'<line x1="{lx}" y1="{ly - 4}" x2="{lx + 16}" y2="{ly - 4}" stroke="{COLORS["sl"]}" stroke-width="2"/>'
        f'<text x="{lx + 20}" y="{ly}" fill="#33404f">service level (right axis)</text>'
    )
    lx += 170
    out.append(
        f'<rect x="{lx}" y="{ly - 9}" width="10" height="10" fill="url(#{uid})" stroke="{COLORS["gap"]}"/>'
        f'<text x="{lx + 14}" y="{ly}" fill="#33404f">gap in the data</text>'
    )
    out.append("</svg>")
    return "".join(out)


# -- agents --------------------------------------------------------------------------------------------------


def _agents_section(rep: dict) -> str:
    agents = rep["agents"]
    if not agents:
        return '<h2 class="agents">Agents</h2><p class="small">No agent activity in this period.</p>'
    reasons = sorted({r for a in agents.values() for r in a["total"]["pause_s_by_reason"]})
    head = [
        "Calls",
        "Talk",
        "Wrap-up",
        "Available",
        "Occupancy",
        "Missed",
        "Outbound",
        "Dial attempts",
        "Paused",
        *[f"Paused: {r or '(no reason)'}" for r in reasons],
    ]

    def cells(f: dict) -> list[str]:
        return [
            num(f["calls_handled"]),
            hmm(f["talk_s"]),
            hmm(f["wrap_s"]),
            hmm(f["available_s"]),
            pct(f["occupancy"]),
            num(f["missed"]),
            num(f["outbound_calls"]),
            num(f["dial_attempts"]),
            hmm(f["pause_s"]),
            *[hmm(f["pause_s_by_reason"].get(r, 0)) for r in reasons],
        ]

    body = [_row([escape(_agent_name(aid, a)), *cells(a["total"])]) for aid, a in agents.items()]
    body.append(_row(["All agents", *cells(rep["agent_total"])], "total"))
    return (
        '<h2 class="agents">Agents</h2>'
        '<div class="small">Times in hours:minutes. Occupancy = (talk + wrap-up) / (talk + wrap-up + available). '
        "Missed = rang and not answered (a ring lost to another agent is not a miss); outbound calls are the "
        "answered ones of the dial attempts.</div>"
        f'<div class="chart">{agent_chart(rep)}</div>'
        f"<table>{_head('Agent', head)}<tbody>{''.join(body)}</tbody></table>"
    )


def _agent_name(aid: str, a: dict) -> str:
    return f"{a['name']} ({aid})" if a.get("name") else aid


def agent_chart(rep: dict) -> str:
    """One horizontal bar per agent: talk, wrap-up, available and paused time, with the occupancy."""
    agents = list(rep["agents"].items())
    W, L, R, T, rowh = 960, 150, 70, 8, 18
    H = T + rowh * len(agents) + 34
    pw = W - L - R
    parts = ("talk_s", "wrap_s", "available_s", "pause_s")
    colors = ("talk", "wrap", "available", "paused")
    tmax = max([sum(a["total"][k] for k in parts) for _, a in agents] + [1])
    out = [
        f'<svg width="{W}" height="{H}" viewBox="0 0 {W} {H}" '
        f'font-family="Helvetica,Arial,sans-serif" font-size="11" role="img" aria-label="Agent time">'
    ]
    for i, (aid, a) in enumerate(agents):
        y = T + i * rowh
        f = a["total"]
        out.append(
            f'<text x="{L - 6}" y="{y + 12}" text-anchor="end" fill="#33404f">{escape(_agent_name(aid, a)[:24])}</text>'
        )
        x = float(L)
        for k, c in zip(parts, colors):
            w = pw * f[k] / tmax
            if w > 0:
                out.append(
                    f'<rect x="{x:.1f}" y="{y + 2}" width="{w:.1f}" height="{rowh - 5}" fill="{COLORS[c]}">'
                    f"<title>{escape(k)} {hmm(f[k])}</title></rect>"
                )
                x += w
        out.append(f'<text x="{x + 5:.1f}" y="{y + 12}" fill="#33404f">{pct(f["occupancy"])}</text>')
    ly = H - 10
    lx = L
    for c, text in zip(colors, ("talk", "wrap-up", "available", "paused")):
        out.append(
            f'<rect x="{lx}" y="{ly - 9}" width="10" height="10" fill="{COLORS[c]}"/>'
            f'<text x="{lx + 14}" y="{ly}" fill="#33404f">{text}</text>'
        )
        lx += 85
    out.append(f'<text x="{lx}" y="{ly}" fill="#33404f">(figure at the end of each bar: occupancy)</text>')
    out.append("</svg>")
    return "".join(out)


def _definitions() -> str:
    items = [
        ("Offered", "answered + abandoned + overflowed (queue entries that ended)."),
        ("Service level", "by the queue's formula, shown under its name; answered within the threshold counts."),
        ("ASA", "total wait of answered calls / answered."),
        ("Average wait", "total wait of every call that left the queue / offered."),
        ("Abandon rate", "(abandoned − short abandoned) / (offered − short abandoned)."),
        ("AHT", "(talk + wrap-up time of the calls that ended) / calls that ended."),
        ("Peak waiting", "the most callers waiting at once, seen when a caller joined."),
        ("Occupancy", "(talk + wrap-up) / (talk + wrap-up + available), from time in each agent state."),
    ]
    dl = "".join(f"<dt>{escape(k)}</dt><dd>{escape(v)}</dd>" for k, v in items)
    return f"<h2>Definitions</h2><dl>{dl}</dl>"
