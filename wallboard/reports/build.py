"""One period's report as plain data (the JSON format; HTML and CSV are rendered from it).

``build_report`` checks the request (unknown queue or agent, an empty or future period, a period older than
retention: a ``ReportError`` with a clear message), rolls up what the period needs and is not rolled up yet,
reads the stored rollups and computes every figure (``wallboard.reports.figures``). Gaps in the data (the
``{c}:gaps`` zset: a feed that saw nothing for a while) are listed and carried on every row they touch
(``gap_s``), never smoothed over.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Literal

import redis.asyncio as aredis

from .. import catalog, metrics
from ..channels import CHANNELS
from ..clock import Clock, SystemClock
from ..config import WallboardConfig
from ..history.calendar import CentreCalendar, Period, utc_iso
from ..history.codec import merge
from ..history.rollup import HistoryReader, Rollup
from ..keys import Keys
from ..targets import queue_met, queue_targets
from .fcr import fcr_section
from .figures import agent_figures, queue_figures, total_figures
from .words import NOTES  # the stored report's notes are English; render_html translates them

REPORT_SCHEMA_VERSION = 1
# the seconds an agent's occupancy rests on (the catalog's terms, by their stored names)
_OCCUPANCY_TERMS = tuple(dict.fromkeys(catalog.get("occupancy", "agent").den))
Detail = Literal["auto", "interval", "day"]


class ReportError(ValueError):
    """The request cannot be answered; the message says why, for the person who asked."""


@dataclass
class ReportRequest:
    period: Period
    queues: list[str] | None = None
    agents: list[str] | None = None
    detail: Detail = "auto"
    # a team lead's view: only these queues and their agents (a role's queues); None: the whole centre
    team: list[str] | None = None
    team_name: str = ""


async def build_report(
    client: aredis.Redis,
    config: WallboardConfig,
    req: ReportRequest,
    *,
    keys: Keys | None = None,
    clock: Clock | None = None,
) -> dict:
    keys = keys or Keys(config.redis.prefix)
    clock = clock or SystemClock()
    cal = CentreCalendar(config.centre)
    now = clock.now()
    today = cal.today(now)
    p = req.period
    if p.last < p.first:
        raise ReportError(f"the period is empty: --to {p.last} is before --from {p.first}")
    if p.first > today:
        raise ReportError(f"the period {p.label()} has not started yet (today is {today} in {cal.tz.key})")
    rollup = Rollup(client, config, keys, clock)
    known_q = await rollup.queue_names()
    known_a = await rollup.agent_ids()
    for name, asked, known in (("queue", req.queues, known_q), ("agent", req.agents, known_a)):
        bad = [x for x in asked or [] if x not in known]
        if bad:
            listing = ", ".join(known[:30]) + (" ..." if len(known) > 30 else "") if known else "none yet"
            raise ReportError(
                f"unknown {name}{'s' if len(bad) > 1 else ''} {', '.join(map(repr, bad))}; known {name}s: {listing}"
            )
    queues_of = await _queues_of(client, config, keys, known_a)
    if req.team is not None:
        _team_check(req, _members_of(queues_of, set(req.team), strict=True))
    queues = list(req.queues) if req.queues else list(req.team) if req.team is not None else known_q
    if req.agents:
        agents = list(req.agents)
    elif req.queues or req.team is not None:
        agents = _members_of(queues_of, set(queues), strict=req.team is not None)
    else:
        agents = known_a
    # each queue's crew: the agents skilled for it or members of it now, whose time gives its occupancy
    # (utilisation; agent time is not kept per queue, so an agent of two queues is in both crews)
    crews = {q: [a for a in known_a if q in queues_of[a]] for q in queues}
    crew_only = sorted({a for c in crews.values() for a in c} - set(agents))
    keep_d, keep_i = config.history.daily_keep_days, config.history.interval_keep_days
    last = min(p.last, today)
    days = [d for d in p.days() if d <= last]
    notes: list[str] = []
    if p.last > today:
        notes.append(NOTES["en"]["runs_to"].format(last=p.last, now=cal.local_iso(now.timestamp())))

    # roll up what this period needs (all queues and agents, so the day is marked as rolled up, unless the
    # request names some)
    if days:
        await rollup.ensure(
            days[0],
            days[-1],
            queues=queues if req.queues or req.agents else None,
            agents=[*agents, *crew_only] if req.queues or req.agents else None,
        )

    detail = req.detail
    if detail == "auto":
        detail = "interval" if len(days) == 1 else "day"
    reader = HistoryReader(client, config, keys)
    qdaily = await reader.daily("q", queues, days)
    adaily = await reader.daily("a", agents, days)
    crew_daily = {**adaily, **(await reader.daily("a", crew_only, days) if crew_only else {})}
    stored_any = any(v for per in (*qdaily.values(), *adaily.values()) for v in per.values())
    if not stored_any and p.first < today - timedelta(days=keep_d):
        ago = (today - p.first).days
        raise ReportError(
            f"nothing is stored for {p.label()}: daily figures are kept {keep_d} days "
            f"(history.daily_keep_days), and that period began {ago} days ago"
        )
    if p.first < today - timedelta(days=keep_d):
        notes.append(NOTES["en"]["older"].format(days=keep_d))
    qint = ain = crew_int = None
    if detail == "interval":
        qint = await reader.intervals("q", queues, days)
        ain = await reader.intervals("a", agents, days)
        crew_int = {**ain, **(await reader.intervals("a", crew_only, days) if crew_only else {})}
        missing = [d for d in days if any(qdaily[q][d] for q in queues) and not any(qint[q][d] for q in queues)]
        if missing:
            notes.append(NOTES["en"]["intervals_kept"].format(days=keep_i, missing=", ".join(map(str, missing))))

    start, end = cal.day_start(p.first), cal.day_start(p.last + timedelta(days=1))
    gaps = await _gaps(client, keys, cal, start, end)
    units = _units(cal, days, detail, qint)

    voice_crew = sorted({a for q in queues if config.queue(q).channel == "voice" for a in crews[q]})

    def crew_occupancy(q: str | None, day: date | None = None, idx: int | None = None) -> float | None:
        """The occupancy of the queue's crew (None: every voice queue's, each agent once) in one row (a day, an
        interval of it) or, with no day, over the period."""
        if q is not None and config.queue(q).channel != "voice":
            return None  # a written channel's load is its slots in use, not its agents' states
        summed = dict.fromkeys(_OCCUPANCY_TERMS, 0.0)
        for a in crews[q] if q is not None else voice_crew:
            for d in days if day is None else [day]:
                c = crew_daily[a][d] if idx is None else (crew_int[a][d] or {}).get(idx, {})
                for k in _OCCUPANCY_TERMS:
                    summed[k] += (c or {}).get(k, 0.0)
        return metrics.occupancy(summed).value

    def rows_for(kind, name, fig_fn):
        rows: list[dict] = []
        for day, idx, s, e in units:
            if idx is None:
                c = (qdaily if kind == "q" else adaily)[name][day] or {}
            else:
                c = ((qint if kind == "q" else ain)[name][day] or {}).get(idx, {})
            rows.append(
                {
                    "start": cal.local_iso(s),
                    "end": cal.local_iso(e),
                    "label": _label(cal, s, idx),
                    "gap_s": _overlap(gaps, s, e),
                    "has_data": bool(c),
                    **fig_fn(c),
                    **({"occupancy": crew_occupancy(name, day, idx)} if kind == "q" else {}),
                }
            )
        return _trim(rows) if detail == "interval" else rows

    out_queues = {}
    qtotals = []
    for q in queues:
        qc = config.queue(q)
        tot: dict[str, float] = {}
        for d in days:
            merge(tot, qdaily[q][d] or {})
        qtotals.append((tot, qc))
        out_queues[q] = {
            "label": qc.label or q,
            "channel": qc.channel,
            "sl_formula": qc.sl_formula,
            "sl_threshold_s": qc.sl_threshold_s,
            "short_abandon_s": qc.short_abandon_s,
            "count_overflow": qc.count_overflow,
            "sl_target": _sl_target(qc),
            "total": {**queue_figures(tot, qc), "occupancy": crew_occupancy(q), "gap_s": _overlap(gaps, start, end)},
            "rows": rows_for("q", q, lambda c, qc=qc: queue_figures(c, qc)),
        }
        _mark_targets(config, q, out_queues[q], p.kind, detail)
    names = {a.id: a.name for a in config.agents}
    out_agents = {}
    for a in agents:
        tot = {}
        for d in days:
            merge(tot, adaily[a][d] or {})
        if not tot and not req.agents:
            continue  # nobody there this period
        out_agents[a] = {"name": names.get(a), "total": agent_figures(tot), "rows": rows_for("a", a, agent_figures)}
    agent_total: dict[str, float] = {}
    for a in out_agents:
        for d in days:
            merge(agent_total, adaily[a][d] or {})
    if not stored_any:
        notes.append(NOTES["en"]["no_data"])
    period_end = datetime.fromtimestamp(end, cal.tz)
    fcr = await fcr_section(client, config, keys, queues, days, period_end, now)
    if req.agents or req.team is not None:
        fcr["agents"] = {a: v for a, v in fcr["agents"].items() if a in set(agents)}
    if fcr["provisional"] and fcr["total"]["contacts"]:
        until = fcr["final_at"][:16].replace("T", " ")
        notes.append(NOTES["en"]["fcr_provisional"].format(until=until, days=fcr["days"]))
    return {
        "schema_version": REPORT_SCHEMA_VERSION,
        "centre": config.centre.name,
        "timezone": config.centre.timezone,
        "period": {
            "kind": p.kind,
            "key": p.key,
            "label": p.label(),
            "first": p.first.isoformat(),
            "last": p.last.isoformat(),
            "start": cal.local_iso(start),
            "end": cal.local_iso(end),
            "week_start": config.centre.week_start,
            "reset_time": config.centre.reset_time,
        },
        "generated_at": utc_iso(now.timestamp()),
        "detail": detail,
        "queues": out_queues,
        "total": {**total_figures(qtotals), "occupancy": crew_occupancy(None), "gap_s": _overlap(gaps, start, end)},
        # a blended centre: the all-queues figures per channel too (entries of one channel; SL by each queue's own
        # formula and threshold, summed as the total is); {} when every queue is of one channel
        "channels": _by_channel(qtotals),
        "agents": out_agents,
        "agent_total": agent_figures(agent_total),
        "fcr": fcr,
        "gaps": gaps,
        "notes": notes,
    }


def _by_channel(qtotals: list) -> dict[str, dict]:
    channels = sorted({qc.channel for _, qc in qtotals}, key=CHANNELS.index)
    if len(channels) < 2:
        return {}
    return {ch: total_figures([(t, qc) for t, qc in qtotals if qc.channel == ch]) for ch in channels}


def _mark_targets(config: WallboardConfig, queue: str, out: dict, kind: str, detail: str) -> None:
    """Each figure with a target: the period's total against the period's target (a range has none), each day
    row against the day's, and how many days met it."""
    day = queue_targets(config, queue, "day")
    whole = queue_targets(config, queue, kind) if kind in ("day", "week", "month") else {}
    out["targets"] = {"day": day, "period": whole}
    out["total"]["met"] = {k: queue_met(k, out["total"].get(k), t) for k, t in whole.items()}
    days_met = {k: [0, 0] for k in day}
    for r in out["rows"]:
        if detail != "day" or not r.get("has_data"):
            continue
        r["met"] = {k: queue_met(k, r.get(k), t) for k, t in day.items()}
        for k, m in r["met"].items():
            if m is not None:
                days_met[k][0] += m
                days_met[k][1] += 1
    out["days_met"] = {k: {"met": v[0], "of": v[1]} for k, v in days_met.items()}


def _sl_target(qc) -> float | None:
    """The service-level warn level, when the queue has one (drawn on the chart)."""
    t = qc.thresholds.get("service_level")
    return t.warn if t is not None and t.direction == "below" else None


def _team_check(req: ReportRequest, members: list[str]) -> None:
    """A team lead asks only about their team: their role's queues and the agents in them."""
    team = ", ".join(req.team or []) or "none"
    for q in req.queues or []:
        if q not in (req.team or []):
            raise ReportError(f"queue {q!r} is not in {req.team_name}'s queues ({team})")
    for a in req.agents or []:
        if a not in members:
            raise ReportError(f"agent {a!r} is not in {req.team_name}'s team (the agents of {team})")


async def _queues_of(client, config, keys, agents) -> dict[str, set[str]]:
    """Each agent's queues: skilled for them (config) or members now (membership events)."""
    pipe = client.pipeline(transaction=False)
    for a in agents:
        pipe.hkeys(keys.agent_queues(a))
    live = await pipe.execute()
    skills = {a.id: set(a.skills) for a in config.agents}
    return {a: set(m) | skills.get(a, set()) for a, m in zip(agents, live)}


def _members_of(queues_of: dict[str, set[str]], queues: set[str], strict: bool = False) -> list[str]:
    """Agents skilled or members now of any of ``queues``, and agents whose queues are not known at all (they
    may have served these queues: agent figures are not kept per queue) — except for a team (``strict``): an
    agent of unknown queues is nobody's team."""
    return [a for a, known in queues_of.items() if known & queues or (not known and not strict)]


async def _gaps(client, keys: Keys, cal: CentreCalendar, start: int, end: int) -> list[dict]:
    """Feed gaps overlapping [start, end), each with its local start and end."""
    out = []
    for raw in await client.zrangebyscore(keys.gaps, start - 7 * 86400, f"({end}"):
        g = json.loads(raw)
        s = datetime.fromisoformat(g["start"].replace("Z", "+00:00")).timestamp()
        e = s + float(g.get("length_s", 0))
        if e > start and s < end:
            out.append(
                {
                    "start_epoch": s,
                    "end_epoch": e,
                    "length_s": float(g.get("length_s", 0)),
                    "feed": g.get("feed"),
                    "start": cal.local(s).isoformat(timespec="seconds"),
                    "end": cal.local(e).isoformat(timespec="seconds"),
                }
            )
    return out


def _overlap(gaps: list[dict], s: float, e: float) -> float:
    return round(sum(max(0.0, min(e, g["end_epoch"]) - max(s, g["start_epoch"])) for g in gaps), 3)


def _units(cal: CentreCalendar, days: list[date], detail: str, qint) -> list[tuple[date, int | None, int, int]]:
    """Rows of the report: every 15-minute interval of each day (interval detail) or each day."""
    out = []
    for d in days:
        if detail == "interval":
            out += [(d, i, s, e) for i, (s, e) in enumerate(cal.intervals(d))]
        else:
            s, e = cal.day_bounds(d)
            out.append((d, None, s, e))
    return out


def _label(cal: CentreCalendar, s: float, idx: int | None) -> str:
    t = cal.local(s)
    return t.strftime("%H:%M") if idx is not None else t.strftime("%a %d %b")


def _trim(rows: list[dict]) -> list[dict]:
    """Interval rows from the first with data (or a gap) to the last."""
    keep = [i for i, r in enumerate(rows) if r["has_data"] or r["gap_s"]]
    if not keep:
        return []
    return rows[keep[0] : keep[-1] + 1]
