"""The report as one self-contained HTML file: tables and inline SVG charts, no script, no external resource.

Made to be read in a mail client (a client that drops SVG still shows every figure in the tables) and printed
(table headers repeat on each page, rows and charts are not split). Gaps in the data are drawn as hatched
bands on the charts, marked on the table rows they touch and listed at the top.

The markup is in ``templates/`` (jinja2, autoescaped: a queue or agent name is text wherever it lands); this
module only prepares what they show: the columns from the metric catalog (``Metric.html``), each cell formatted,
and the charts' geometry.
"""

from __future__ import annotations

import math
import re
import zlib
from datetime import date, datetime
from functools import cache
from zoneinfo import ZoneInfo

import jinja2
from markupsafe import Markup, escape

from ..channels import label as channel_label
from .. import catalog
from . import words as wordbook
from .words import DEFINITIONS, SL_LABEL, words

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


def pct(v) -> str:
    return "–" if v is None else f"{v * 100:.1f}%"


def secs(v, lang: str = "en") -> str:
    return "–" if v is None else words(lang)["s"].format(n=f"{v:.0f}")


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


# a catalog column's format (``catalog.ReportFmt``) -> how a cell writes it
def score(v) -> str:
    """NPS: the fraction x 100 as a signed whole number, half away from zero (as the TV and the board)."""
    if v is None:
        return "–"
    n = int(math.floor(abs(v) * 100 + 0.5)) * (1 if v >= 0 else -1)
    return f"+{n}" if n > 0 else str(n)


def rate(v) -> str:
    return "–" if v is None else f"{v:.1f}"


FORMATS = {"count": num, "pct": pct, "s": secs, "m:ss": mmss, "h:mm": hmm, "score": score, "rate": rate}


@cache
def formats(lang: str) -> dict:
    """``FORMATS`` in ``lang``: only seconds carry a unit word."""
    return {**FORMATS, "s": lambda v: secs(v, lang)}


QUEUE_COLUMNS = catalog.html_columns("queue")
AGENT_COLUMNS = catalog.html_columns("agent")


@cache
def _env() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("wallboard.reports", "templates"),
        autoescape=True,  # every template here is HTML or SVG
        undefined=jinja2.StrictUndefined,  # a name missing from the context is an error, not an empty cell
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["f1"] = lambda v: f"{v:.1f}"
    env.filters["pct"] = pct
    return env


def render_html(rep: dict, lang: str = "en") -> str:
    """The page in ``lang``: English, or Hebrew right to left with its numbers and times kept left to right."""
    p = rep["period"]
    w = words(lang)
    queue_heads = [h for _, h, _ in catalog.html_columns("queue", lang)]
    rtl = w["dir"] == "rtl"
    return (
        _env()
        .get_template("report.html.j2")
        .render(
            rep=rep,
            w=w,
            lang=lang,
            ltr=_ltr if rtl else str,
            name=_isolated if rtl else str,
            kind_word=w.get(_kind_word(p["kind"]), w["period"]),
            period_label=_period_label(p, lang),
            notes=[wordbook.note(n, lang) for n in rep["notes"]],
            generated=rep["generated_at"].replace("T", " ").replace("Z", " UTC"),
            start=p["start"][:16].replace("T", " "),
            end=p["end"][:16].replace("T", " "),
            gaps=[
                {
                    "start": _local(g["start"], rep, lang),
                    "end": _local(g["end"], rep, lang),
                    "length": _dur(g["length_s"], lang),
                    "feed": str(g.get("feed") or "?"),
                }
                for g in rep["gaps"]
            ],
            queue_heads=queue_heads,
            summary=_summary_rows(rep, lang),
            queues=[_queue_section(name, q, rep, lang) for name, q in rep["queues"].items()],
            agents=_agents_section(rep, lang),
            fcr=_fcr_section(rep, lang),
            definitions=DEFINITIONS[lang],
            colors=COLORS,
        )
    )


_HEBREW = re.compile("[\u0590-\u05ff]")
# a run of figures: words with a digit and no Hebrew (numbers, times, dates, percentages; the punctuation around
# them left out), with the spaces and dashes between them
_FIGURE = "[^\\s\u0590-\u05ff();,]*\\d(?:[^\\s\u0590-\u05ff]*[^\\s\u0590-\u05ff;:.,()])?"
_FIGURES = re.compile(f"{_FIGURE}(?:[ –]+{_FIGURE})*")


def _ltr(v) -> Markup:
    """A number, time or date inside right-to-left text, kept left to right (``3:05``, ``-12``, ``81.3%``); in a
    text with Hebrew words (``31 שנ׳``, ``יום א׳ 22.11``) only its figures, so the words read right to left."""
    text = str(v)
    if not _HEBREW.search(text):
        return Markup('<bdi dir="ltr">%s</bdi>') % escape(text)
    out, at = Markup(), 0
    for m in _FIGURES.finditer(text):
        out += escape(text[at : m.start()]) + Markup('<bdi dir="ltr">%s</bdi>') % m.group()
        at = m.end()
    return out + escape(text[at:])


def _isolated(v) -> Markup:
    """A name inside right-to-left text, in its own direction: a Latin queue name keeps its brackets in place."""
    return Markup("<bdi>%s</bdi>") % escape(v)


def _kind_word(kind: str) -> str:
    return {"day": "daily", "week": "weekly", "month": "monthly"}.get(kind, "period")


def _local(utc_iso: str, rep: dict, lang: str = "en") -> str:
    t = datetime.fromisoformat(utc_iso.replace("Z", "+00:00")).astimezone(ZoneInfo(rep["timezone"]))
    return wordbook.day(t, lang)


def _dur(s: float, lang: str = "en") -> str:
    s, w = int(round(s)), words(lang)
    return w["dur_h"].format(h=s // 3600, m=s % 3600 // 60) if s >= 3600 else w["dur_m"].format(m=s // 60, s=s % 60)


def _period_label(p: dict, lang: str) -> str:
    if lang == "en":
        return p["label"]
    return wordbook.he_period_label(p["kind"], date.fromisoformat(p["first"]), date.fromisoformat(p["last"]))


def _row_label(r: dict, lang: str) -> str:
    """A row's name: its time of day, or its day (``Sun 22 Nov``) in ``lang``."""
    if lang == "en" or re.fullmatch(r"\d\d:\d\d", r["label"]):  # an interval's time of day
        return r["label"]
    return wordbook.day(date.fromisoformat(r["start"][:10]), lang)


def _row(label: str, cells: list[str], cls: str = "", bold: bool = False, gap_s: float = 0, time: bool = False) -> dict:
    """A table row: its first cell's text (bold, or marked with a gap of ``gap_s``; ``time``: a time or date,
    kept left to right), then the figures."""
    return {"label": label, "cells": cells, "cls": cls, "bold": bold, "gap_s": int(gap_s or 0), "time": time}


# -- queues --------------------------------------------------------------------------------------------------


def _qcells(f: dict, lang: str = "en") -> list[str]:
    fm = formats(lang)
    return [fm[fmt](f[name]) for name, _, fmt in QUEUE_COLUMNS]


def _fcr_section(rep: dict, lang: str = "en") -> dict | None:
    f = rep.get("fcr")
    if not f:
        return None
    names = {a: (rep["agents"].get(a) or {}).get("name") or a for a in f["agents"]}
    rows = [{"label": rep["queues"].get(q, {}).get("label") or q, "bold": False, **v} for q, v in f["queues"].items()]
    w = words(lang)
    rows.append({"label": w["all_queues"], "bold": True, **f["total"]})
    rows += [{"label": f"{w['agent']} {names[a]}", "bold": False, **v} for a, v in f["agents"].items()]
    return {**f, "final_at": f["final_at"][:16].replace("T", " "), "rows": rows}


def _summary_rows(rep: dict, lang: str = "en") -> list[dict]:
    w = words(lang)
    rows = [_row(_qname(q, lang), _qcells(q["total"], lang), bold=True) for q in rep["queues"].values()]
    if len(rep["queues"]) > 1:
        rows.append(_row(w["all_queues"], _qcells(rep["total"], lang), "total"))
    for ch, f in (rep.get("channels") or {}).items():  # a blended centre: each channel's queues together
        rows.append(_row(w["all_channel_queues"].format(channel=_ch(ch, lang)), _qcells(f, lang), "total"))
    return rows


def _ch(channel: str, lang: str) -> str:
    name = channel_label(channel, lang)
    return name.lower() if lang == "en" else name


def _qname(q: dict, lang: str = "en") -> str:
    """A queue's name, with its channel when it is a written one: ``Web help (chat)``."""
    ch = q.get("channel") or "voice"
    return q["label"] if ch == "voice" else f"{q['label']} ({_ch(ch, lang)})"


def _sl_text(q: dict, lang: str = "en") -> str:
    o = SL_LABEL[lang]["overflow"] if q["count_overflow"] else ""
    return SL_LABEL[lang][q["sl_formula"]].format(t=f"{q['sl_threshold_s']:g}", o=o)


def _queue_section(name: str, q: dict, rep: dict, lang: str = "en") -> dict:
    w = words(lang)
    rows = [
        _row(
            _row_label(r, lang),
            _qcells(r, lang),
            "gap" if r["gap_s"] else ("" if r["has_data"] else "empty"),
            gap_s=r["gap_s"],
            time=True,
        )
        for r in q["rows"]
    ]
    rows.append(_row(w["total"], _qcells(q["total"], lang), "total"))
    return {
        "title": q["label"] if q["label"] == name else f"{q['label']} ({name})",
        "sl_text": _sl_text(q, lang),
        "short_abandon_s": f"{q['short_abandon_s']:g}",
        "reasons": [(wordbook.reason(k, lang), v) for k, v in sorted(q["total"]["overflowed_by_reason"].items())],
        "chart": queue_chart(q, rep["detail"], lang),
        "unit": w["interval"] if rep["detail"] == "interval" else w["day"],
        "heads": [h for _, h, _ in catalog.html_columns("queue", lang, q.get("channel") or "voice")],
        "rows": rows,
        "targets": _targets_rows(q, rep["period"]["kind"], lang),
    }


def _targets_rows(q: dict, kind: str, lang: str = "en") -> list[dict]:
    """Per figure with a target: the period's value beside its target, met or missed, and the days that met the
    day's target."""
    t = q.get("targets") or {}
    day, whole = t.get("day", {}), t.get("period", {})
    fmts = {name: formats(lang)[fmt] for name, _, fmt in QUEUE_COLUMNS}
    heads = {name: head for name, head, _ in catalog.html_columns("queue", lang)}
    w = words(lang)
    out = []
    for k in sorted(set(day) | set(whole)):
        f = fmts.get(k, pct)
        met = q["total"].get("met", {}).get(k)
        dm = q.get("days_met", {}).get(k)
        out.append(
            {
                "figure": heads.get(k) or catalog.label(catalog.get(k), lang),  # occupancy: no column of its own
                "value": f(q["total"].get(k)),
                "target": f(whole[k]) if k in whole else "–",
                "met": "–" if met is None else ("met" if met else "missed"),
                "met_shown": "–" if met is None else (w["met_yes"] if met else w["missed"]),
                "day_target": f(day[k]) if k in day else "–",
                "days": w["of"].format(n=dm["met"], m=dm["of"]) if dm and dm["of"] else "–",
            }
        )
    return out


def _nice_max(v: float) -> float:
    """A round top for an axis of four steps."""
    if v <= 4:
        return 4
    mag = 10 ** math.floor(math.log10(v / 4))
    for m in (1, 2, 2.5, 5, 10):
        if m * mag * 4 >= v:
            return m * mag * 4
    return v


def queue_chart(q: dict, detail: str, lang: str = "en") -> dict:
    """Stacked bars of answered / abandoned / overflowed per row, the SL line on its own axis, gap bands: the
    geometry, drawn by ``templates/charts.svg.j2``."""
    rows = q["rows"]
    per = "interval" if detail == "interval" else "day"
    W, H, L, R, T, B = 960, 230, 44, 44, 12, 40
    pw, ph = W - L - R, H - T - B
    n = max(1, len(rows))
    bw = pw / n
    ymax = _nice_max(max([r["offered"] for r in rows] + [1]))

    def labelled(i: int, r: dict) -> bool:
        if n <= 16:
            return True
        if detail == "interval":  # whole hours (every other one on a long day)
            return r["label"].endswith(":00") and (n <= 64 or int(r["label"][:2]) % 2 == 0)
        return i % math.ceil(n / 16) == 0

    columns = []
    for i, r in enumerate(rows):
        x = L + i * bw
        bars, y = [], T + ph
        for key in ("answered", "abandoned", "overflowed"):
            h = ph * r[key] / ymax
            if h > 0:
                y -= h
                bars.append({"key": key, "y": y, "h": h, "count": r[key]})
        tick = None
        if labelled(i, r):  # a time of day; else the day: its label without the weekday, or 22.11 in Hebrew
            if detail == "interval":
                tick = r["label"]
            else:
                tick = r["label"][4:] if lang == "en" else wordbook.he_short_day(date.fromisoformat(r["start"][:10]))
        columns.append({"x": x, "gap": bool(r["gap_s"]), "label": _row_label(r, lang), "bars": bars, "tick": tick})
    # the SL line, broken where there is no SL
    lines: list[list[tuple[str, str]]] = [[]]
    for i, r in enumerate(rows):
        v = r["service_level"]
        if v is None:
            lines.append([])
        else:
            lines[-1].append((f"{L + (i + 0.5) * bw:.1f}", f"{T + ph - ph * v:.1f}"))
    target = q.get("sl_target")
    return {
        "W": W,
        "H": H,
        "L": L,
        "T": T,
        "pw": pw,
        "ph": ph,
        "bw": bw,
        "per": per if lang == "en" else words(lang)[per],
        "uid": f"gap{zlib.crc32(q['label'].encode()):08x}",
        "grid": [(T + ph - ph * k / 4, f"{ymax * k / 4:g}", 25 * k) for k in range(5)],
        "columns": columns,
        "sl_lines": [s for s in lines if s],
        "target": None if target is None else {"y": T + ph - ph * target, "value": target},
    }


# -- agents --------------------------------------------------------------------------------------------------


def _agents_section(rep: dict, lang: str = "en") -> dict | None:
    agents = rep["agents"]
    if not agents:
        return None
    reasons = sorted({r for a in agents.values() for r in a["total"]["pause_s_by_reason"]})

    def cells(f: dict) -> list[str]:
        return [formats(lang)[fmt](f[name]) for name, _, fmt in AGENT_COLUMNS] + [
            hmm(f["pause_s_by_reason"].get(r, 0)) for r in reasons
        ]

    w = words(lang)
    rows = [_row(_agent_name(aid, a), cells(a["total"])) for aid, a in agents.items()]
    rows.append(_row(w["all_agents"], cells(rep["agent_total"]), "total"))
    heads = [h for _, h, _ in catalog.html_columns("agent", lang)]
    heads += [f"{w['paused']}: {r or w['no_reason']}" for r in reasons]
    return {"heads": heads, "rows": rows, "chart": agent_chart(rep)}


def _agent_name(aid: str, a: dict) -> str:
    return f"{a['name']} ({aid})" if a.get("name") else aid


def agent_chart(rep: dict) -> dict:
    """One horizontal bar per agent: talk, wrap-up, available and paused time, with the occupancy: the geometry,
    drawn by ``templates/charts.svg.j2``."""
    agents = list(rep["agents"].items())
    W, L, R, T, rowh = 960, 150, 70, 8, 18
    H = T + rowh * len(agents) + 34
    pw = W - L - R
    parts = (("talk_s", "talk"), ("wrap_s", "wrap"), ("available_s", "available"), ("pause_s", "paused"))
    tmax = max([sum(a["total"][k] for k, _ in parts) for _, a in agents] + [1])
    bars = []
    for i, (aid, a) in enumerate(agents):
        f = a["total"]
        x, segments = float(L), []
        for k, color in parts:
            w = pw * f[k] / tmax
            if w > 0:
                segments.append({"x": x, "w": w, "color": color, "part": k, "time": hmm(f[k])})
                x += w
        bars.append({"y": T + i * rowh, "name": _agent_name(aid, a)[:24], "segments": segments, "end": x, "f": f})
    return {"W": W, "H": H, "L": L, "rowh": rowh, "bars": bars}


def render_scorecard_html(doc: dict, lang: str = "en") -> str:
    """Agent scorecards (``reports.scorecard``) as one self-contained page: per agent the period's figures and
    each day's, each beside its target, a missed one marked; in ``lang`` as the report."""
    from .scorecard import FIGURES

    w = words(lang)
    rtl = w["dir"] == "rtl"
    fmts = {name: fmt for name, _, fmt in AGENT_COLUMNS}
    heads = {name: head for name, head, _ in catalog.html_columns("agent", lang)}

    def shown(figs: list[dict]) -> list[dict]:
        out = []
        for f in figs:
            fmt = formats(lang)[fmts[f["figure"]]]
            target = f["target"]
            out.append(
                {
                    "shown": fmt(f["value"]),
                    "target_shown": fmt(target) if target is not None else "",
                    "met": f["met"],
                }
            )
        return out

    agents = [
        {
            "id": aid,
            "name": a["name"] or aid,
            "total": shown(a["total"]),
            "rows": [{"label": _row_label(r, lang), "figures": shown(r["figures"])} for r in a["rows"]],
        }
        for aid, a in doc["agents"].items()
    ]
    return (
        _env()
        .get_template("scorecard.html.j2")
        .render(
            doc=doc,
            w=w,
            lang=lang,
            ltr=_ltr if rtl else str,
            name=_isolated if rtl else str,
            period_label=_period_label(doc["period"], lang),
            notes=[wordbook.note(n, lang) for n in doc["notes"]],
            agents=agents,
            heads=[heads[k] for k in FIGURES],
            generated=doc["generated_at"].replace("T", " ").replace("Z", " UTC"),
        )
    )
