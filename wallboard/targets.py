"""Targets: what a figure is held to per day, week and month (``[targets]``), and whether it was met.

A queue figure's target is ``[targets.queues.NAME]``'s (or ``'*'``'s, for every queue not listed): one number for
every period, or one per period (a period left out takes the day's). Met is at or past the target in the figure's
good direction (the catalog's ``worse``: SL and answer rate at least, waits and abandons at most)."""

from __future__ import annotations

from typing import Literal

from . import catalog
from .config import PeriodTargets, WallboardConfig

PeriodKind = Literal["day", "week", "month"]


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
