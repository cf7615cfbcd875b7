"""Agent scorecards: each agent's figures per day and for the period, each beside its target (``[targets]
agents``) and whether it was met. Built from a report (``build.build_report``): the same rolled-up counters and
the same catalog ratios, so a scorecard and the report agree."""

from __future__ import annotations

from .. import catalog, targets
from ..config import WallboardConfig

# What a scorecard shows, in order (agent metrics of the catalog; docs/REPORTS.md defines them)
FIGURES = (
    "calls_handled",
    "calls_per_hour",
    "occupancy",
    "answer_rate",
    "aht_s",
    "conversations_handled",
    "written_handle_s",
    "missed",
    "outbound_calls",
    "dial_attempts",
    "csat",
    "csat_responses",
)
# the numbers a figure rests on, shown with it
BASIS = {"calls_per_hour": "logged_in_s", "csat": "csat_responses", "answer_rate": "calls_handled"}


def met(figure: str, value: float | None, target: float | None) -> bool | None:
    """Met: at or past the target in the good direction (the catalog's ``worse``); None without a value or a
    target."""
    return targets.met(value, target, catalog.get(figure, "agent").worse)


def card(fig: dict, goals: dict[str, float]) -> list[dict]:
    return [
        {"figure": k, "value": fig.get(k), "target": goals.get(k), "met": met(k, fig.get(k), goals.get(k))}
        for k in FIGURES
    ]


def _logged_in(fig: dict) -> bool:
    return bool(fig.get("logged_in_s"))


def scorecards(rep: dict, config: WallboardConfig, team: dict | None = None) -> dict:
    """The scorecard document: the report's period, the targets, and per agent the period's card and a card
    per row (per day for a week or month; per interval for one day). A day row is held to the day's targets
    (a counted figure's only on a day the agent was logged in), the period's total to the period's
    (``targets.agent_target``: a counted figure's day target times the days logged in, unless the period has a
    number of its own), an interval row to the day's ratio targets only (a count's target is per day)."""
    kind = rep["period"]["kind"]
    by_interval = rep.get("detail") == "interval"
    day_goals = targets.agent_targets(config, "day")
    interval_goals = {k: v for k, v in day_goals.items() if not targets.counted(k)}
    agents = {}
    for aid, a in rep["agents"].items():
        rows = [r for r in a["rows"] if r.get("has_data", True)]
        # the report days the agent logged in on (a day row's local start date; one day cut into intervals:
        # that day, if logged in at all)
        if by_interval and kind == "day":
            days = int(_logged_in(a["total"]))
        else:
            days = len({r["start"][:10] for r in rows if _logged_in(r)})
        goals = targets.agent_targets(config, kind, days)

        def row_goals(r: dict) -> dict[str, float]:
            return interval_goals if by_interval else targets.agent_targets(config, "day", int(_logged_in(r)))

        agents[aid] = {
            "name": a["name"],
            "days_logged_in": days,
            "targets": goals,
            "total": card(a["total"], goals),
            "logged_in_s": a["total"]["logged_in_s"],
            "rows": [{"start": r["start"], "label": r["label"], "figures": card(r, row_goals(r))} for r in rows],
        }
    return {
        "schema_version": 1,
        "kind": "scorecard",
        "centre": rep["centre"],
        "timezone": rep["timezone"],
        "period": rep["period"],
        "generated_at": rep["generated_at"],
        "team": team,  # a role's view: {"role", "queues"}
        # the day's targets (a counted figure's per day logged in); each agent's period targets are its own
        "targets": day_goals,
        "agents": agents,
        "notes": rep["notes"],
    }


def render_csv(card_doc: dict) -> str:
    """One row per agent and row (``row`` = total for the period), each figure with its target and met."""
    import csv
    import io

    from .render_csv import text_cell

    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    head = ["agent", "name", "row", "start"]
    for k in FIGURES:
        head += [k, f"{k}.target", f"{k}.met"]
    w.writerow(head)

    def cells(figs):
        row = []
        for f in figs:
            row += [_num(f["value"]), _num(f["target"]), "" if f["met"] is None else ("met" if f["met"] else "missed")]
        return row

    for aid, a in card_doc["agents"].items():
        who = [text_cell(aid), text_cell(a["name"] or "")]
        w.writerow([*who, "total", card_doc["period"]["start"], *cells(a["total"])])
        for r in a["rows"]:
            w.writerow([*who, r["label"], r["start"], *cells(r["figures"])])
    return out.getvalue()


def _num(v) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        return f"{v:.6g}"
    return str(v)


def live_card(agent, config: WallboardConfig) -> list[dict]:
    """Today's card from the live snapshot's agent (``AgentSnapshot``: its since-reset counters, the current state
    counted up to now), by the same catalog ratios as the reports. The live snapshot has no ringing seconds, so
    logged-in time there is talk + wrap-up + available + paused."""
    from .. import metrics

    c = {
        "calls_handled": agent.calls_handled,
        "conversations_handled": agent.conversations_handled,
        "conversation_s": agent.conversation_s,
        "missed": agent.missed,
        "outbound_calls": agent.outbound_calls,
        "dial_attempts": agent.dial_attempts,
        "on_call_s": agent.talk_s,
        "wrap_up_s": agent.wrap_s,
        "available_s": agent.available_s,
        "paused_s": agent.pause_s,
        "csat_top": agent.csat_top,
        "csat_responses": agent.csat_responses,
    }
    counts = ("calls_handled", "conversations_handled", "missed", "outbound_calls", "dial_attempts", "csat_responses")
    fig = {k: c[k] for k in counts}
    for k in FIGURES:
        if catalog.get(k, "agent").kind == "ratio":
            fig[k] = metrics.ratio(k, c, scope="agent").value
    return card(fig, targets.agent_targets(config, "day"))


def team_of(config: WallboardConfig, user: str) -> set[str] | None:
    """The queues a user's roles limit them to (a team lead's team), or None when a role of theirs covers every
    queue (or the user has no limiting role)."""
    u = next((x for x in config.users if x.name == user), None)
    roles = [config.roles[r] for r in (u.roles if u else []) if r in config.roles]
    if not roles or any(r.queues is None for r in roles):
        return None
    return {q for r in roles for q in r.queues or []}
