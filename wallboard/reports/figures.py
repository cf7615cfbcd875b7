"""Report figures from rolled-up counters. Which figures there are is ``wallboard.catalog``'s; every ratio is
``wallboard.metrics``'s, so the report and the live snapshot compute each number the same way.
"""

from __future__ import annotations

from collections.abc import Mapping

from .. import catalog, metrics
from ..config import QueueConfig

# The report's figures, by kind, in the catalog's order (``wallboard.catalog``).
QUEUE_COUNTS = tuple(
    m.name for m in catalog.queue(kind="counter", report=True) if m.unit != "seconds" and not m.breakdown
)
QUEUE_SECONDS = tuple(m.name for m in catalog.queue(kind="counter", unit="seconds", report=True))
QUEUE_RATIOS = tuple(m.name for m in catalog.queue(kind="ratio", report=True))
QUEUE_PEAKS = tuple(m.name for m in catalog.queue(peak=True, report=True))
AGENT_COUNTS = tuple(m.name for m in catalog.agent(kind="counter", report=True) if m.unit != "seconds")
AGENT_SECONDS = tuple(m.name for m in catalog.agent(kind="counter", unit="seconds", report=True))
AGENT_RATIOS = tuple(m.name for m in catalog.agent(kind="ratio", report=True))
_BREAKDOWNS = tuple(m.name for m in catalog.queue(kind="counter", report=True) if m.breakdown)


def occupancy(c: Mapping[str, float]) -> metrics.Ratio:
    """(talk + wrap-up) / (talk + wrap-up + available), from seconds in each agent state. Ringing, paused and
    logged-out time are in neither part (``wallboard.metrics.occupancy``, the catalog's terms)."""
    return metrics.occupancy(c)


def queue_figures(c: Mapping[str, float], q: QueueConfig) -> dict:
    """Counters, overflow by reason, the ratios by the queue's own SL formula, and the peak waiting: the live
    snapshot's figures (``metrics.window_figures``), stored counts first, then derived ones, breakdowns, seconds
    (to the millisecond), ratios (SL with its numerator and denominator) and peaks."""
    base, ratios = metrics.window_figures(c, q.sl_formula, q.count_overflow)
    counts = [k for k in QUEUE_COUNTS if not catalog.get(k).derived]
    counts += [k for k in QUEUE_COUNTS if catalog.get(k).derived]
    fig: dict = {k: base[k] for k in counts}
    fig.update({k: base[k] for k in _BREAKDOWNS})
    for k in QUEUE_SECONDS:
        fig[k] = round(base[k], 3)
    for k in QUEUE_RATIOS:
        r = ratios[k]
        fig[k] = r.value
        if k == "service_level":
            fig["sl_numerator"], fig["sl_denominator"] = r.numerator, r.denominator
    for k in QUEUE_PEAKS:
        store = catalog.get(k).store
        fig[k] = int(c[store]) if store in c else None
    return fig


def total_figures(per_queue: list[tuple[Mapping[str, float], QueueConfig]]) -> dict:
    """The centre total: queue entries summed, SL as the sum of each queue's numerator over the sum of its
    denominator (each by its own formula, as the live total), other ratios of the sums; no peak (not additive)."""
    c: dict[str, float] = {}
    num = den = 0.0
    peaks = catalog.peak_fields()
    for counters, q in per_queue:
        for k, v in counters.items():
            if k not in peaks:
                c[k] = c.get(k, 0.0) + v
        sl = metrics.service_level(counters, q.sl_formula, q.count_overflow)
        num += sl.numerator
        den += sl.denominator
    fig = queue_figures(c, QueueConfig(name="total"))
    fig["service_level"] = num / den if den else None
    fig["sl_numerator"], fig["sl_denominator"] = num, den
    for k in QUEUE_PEAKS:
        fig[k] = None
    return fig


def agent_figures(c: Mapping[str, float]) -> dict:
    """An agent's counts, seconds per state (to the millisecond), pause time by reason and occupancy."""
    fig: dict = {k: int(catalog.value_of(c, k, "agent")) for k in AGENT_COUNTS}  # voice_handled: derived
    for k in AGENT_SECONDS:  # stored by their state's name; logged_in_s derived from them
        fig[k] = round(catalog.value_of(c, catalog.get(k, "agent").store, "agent"), 3)
    fig["pause_s_by_reason"] = {
        k.split(":", 1)[1]: round(v, 3) for k, v in sorted(c.items()) if k.startswith("paused_s:") and v
    }
    for k in AGENT_RATIOS:
        fig[k] = metrics.ratio(k, c, scope="agent").value
    if not fig["logged_in_s"]:
        # AHT rests on the agent's state time: a feed with no agent states (call records, a chat platform) has
        # none, and an AHT of 0 s would meet every target
        fig["aht_s"] = None
    return fig
