"""Targets: what a figure is held to per day, week and month (``[targets]``), and whether it was met.

A queue figure's target is ``[targets.queues.NAME]``'s (or ``'*'``'s, for every queue not listed): one number for
every period, or one per period (a period left out takes the day's). Met is at or past the target in the figure's
good direction (the catalog's ``worse``: SL and answer rate at least, waits and abandons at most).

An agent figure's target is ``[targets.agents]``'s, alike for every agent. A ratio's (occupancy, calls per hour,
AHT) is the period's as a queue figure's is. A counted figure's (calls handled, missed, outbound calls, ...) day
target is per day logged in: a week, month or range without a number of its own is held to the day's times the
days the agent was logged in, and a span the agent was not logged in on at all has none (nothing to judge)."""

from __future__ import annotations

from typing import Literal

from . import catalog
from .config import PeriodTargets, WallboardConfig

PeriodKind = Literal["day", "week", "month"]
# what an agent's figures may be judged over: a report period, or a range of days (--from .. --to)
AgentSpan = Literal["day", "week", "month", "range"]


def queue_target(config: WallboardConfig, queue: str, figure: str, period: PeriodKind = "day") -> float | None:
    figs = config.targets.queues.get(queue)
    if figs is None or figure not in figs:
        figs = config.targets.queues.get("*")
    t = figs.get(figure) if figs else None
    if isinstance(t, PeriodTargets):
        chosen = getattr(t, period)
        return chosen if chosen is not None else t.day
    return t


def queue_targets(config: WallboardConfig, queue: str, period: PeriodKind = "day") -> dict[str, float]:
    """Every figure of the queue with a target for ``period``."""
    names = set(config.targets.queues.get(queue, {})) | set(config.targets.queues.get("*", {}))
    out = {}
    for k in sorted(names):
        t = queue_target(config, queue, k, period)
        if t is not None:
            out[k] = t
    return out


def met(value: float | None, target: float | None, worse: str | None) -> bool | None:
    """None without a value or a target."""
    if value is None or target is None:
        return None
    return value <= target if worse == "above" else value >= target


def queue_met(figure: str, value: float | None, target: float | None) -> bool | None:
    return met(value, target, catalog.get(figure).worse)


def agent_target(config: WallboardConfig, figure: str, span: AgentSpan = "day", days: int = 1) -> float | None:
    """The agents' target for ``figure`` over ``span``, ``days`` being the days of it the agent was logged in
    (a counted figure's day target scales by them; a ratio's does not)."""
    t = config.targets.agents.get(figure)
    own = t if not isinstance(t, PeriodTargets) else None
    if isinstance(t, PeriodTargets):
        if span in ("week", "month") and getattr(t, span) is not None:
            return getattr(t, span)  # the period's own number, whatever days were worked
        own = t.day
    if own is None:
        return None
    if not counted(figure):
        return own
    return own * (1 if span == "day" else days) if days else None


def agent_targets(config: WallboardConfig, span: AgentSpan = "day", days: int = 1) -> dict[str, float]:
    """Every agent figure with a target over ``span`` (see ``agent_target``)."""
    out = {}
    for k in config.targets.agents:
        t = agent_target(config, k, span, days)
        if t is not None:
            out[k] = t
    return out


def counted(figure: str) -> bool:
    """An agent figure that is a count (its target is per day), not a ratio."""
    return catalog.get(figure, "agent").kind == "counter"
